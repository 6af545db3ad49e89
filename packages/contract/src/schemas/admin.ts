import { z } from 'zod';
import { E164, InviteCode, PhoneNumberInput } from './common.js';

/** Every event type the audit log records. */
export const AuditEventType = z.enum([
  'otp_requested',
  'otp_verified',
  'otp_failed',
  'login',
  'token_refreshed',
  'refresh_reused',
  'logout',
  'invite_activated',
  'invite_failed',
  'user_blocked',
  'user_unblocked',
  'sessions_revoked',
]);
export type AuditEventType = z.infer<typeof AuditEventType>;

const limit = (def: number) => z.coerce.number().int().min(1).max(1000).default(def);
const cursor = z.string().min(1).max(200).optional();

/** `{phone}` in admin paths: any format the login accepts; clients URL-encode it (`+` → `%2B`). */
export const AdminPhoneParams = z.object({ phone: PhoneNumberInput });
export type AdminPhoneParams = z.infer<typeof AdminPhoneParams>;

export const AdminUsersQuery = z.object({
  limit: limit(50),
  cursor,
  /** E.164 prefix (`+7912`); the `+` is optional. */
  phone_prefix: z
    .string()
    .trim()
    .regex(/^\+?[0-9]{1,15}$/, 'must be digits, optionally after a +')
    .optional(),
});
export type AdminUsersQuery = z.infer<typeof AdminUsersQuery>;

export const AdminUser = z.object({
  id: z.string().uuid(),
  phone_number: E164,
  invite_code: InviteCode,
  /** Phone of the user whose invite code this user activated, or null. */
  invited_by: E164.nullable(),
  invited_users_count: z.number().int().nonnegative(),
  /** ISO 8601, UTC; null when not blocked. */
  blocked_at: z.string().nullable(),
  created_at: z.string(),
});
export type AdminUser = z.infer<typeof AdminUser>;

export const AdminUsersPage = z.object({
  items: z.array(AdminUser),
  next_cursor: z.string().nullable(),
});
export type AdminUsersPage = z.infer<typeof AdminUsersPage>;

export const AdminSession = z.object({
  id: z.string().uuid(),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
  expires_at: z.string(),
  revoked_at: z.string().nullable(),
  revoked_reason: z.string().nullable(),
  /** Not revoked and not expired. */
  active: z.boolean(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
});
export type AdminSession = z.infer<typeof AdminSession>;

export const AdminUserDetail = AdminUser.extend({
  inviter: z
    .object({ phone_number: E164, invite_code: InviteCode, activated_at: z.string() })
    .nullable(),
  /** Newest first, at most 100. */
  sessions: z.array(AdminSession),
});
export type AdminUserDetail = z.infer<typeof AdminUserDetail>;

export const AdminBlockResponse = z.object({
  user: AdminUser,
  /** Sessions ended by this call. */
  sessions_revoked: z.number().int().nonnegative(),
});
export type AdminBlockResponse = z.infer<typeof AdminBlockResponse>;

export const AdminUnblockResponse = z.object({ user: AdminUser });
export type AdminUnblockResponse = z.infer<typeof AdminUnblockResponse>;

export const AdminRevokeSessionsResponse = z.object({
  phone_number: E164,
  sessions_revoked: z.number().int().nonnegative(),
});
export type AdminRevokeSessionsResponse = z.infer<typeof AdminRevokeSessionsResponse>;

export const AdminStats = z.object({
  users_total: z.number().int().nonnegative(),
  users_last_24h: z.number().int().nonnegative(),
  users_blocked: z.number().int().nonnegative(),
  invite_activations_total: z.number().int().nonnegative(),
  invite_activations_last_24h: z.number().int().nonnegative(),
  active_sessions: z.number().int().nonnegative(),
  /** Users whose code was activated most often, at most 10. */
  top_inviters: z.array(
    z.object({ phone_number: E164, invite_code: InviteCode, invited_users_count: z.number().int().positive() }),
  ),
});
export type AdminStats = z.infer<typeof AdminStats>;

export const AdminAuditQuery = z.object({
  limit: limit(50),
  cursor,
  /** Events of this phone (any format the login accepts). */
  phone: PhoneNumberInput.optional(),
  type: AuditEventType.optional(),
});
export type AdminAuditQuery = z.infer<typeof AdminAuditQuery>;

export const AdminAuditEvent = z.object({
  id: z.string(),
  type: AuditEventType,
  user_id: z.string().nullable(),
  phone_number: z.string().nullable(),
  ip: z.string().nullable(),
  /** Event-specific details; never a code or a token. */
  details: z.record(z.unknown()).nullable(),
  created_at: z.string(),
});
export type AdminAuditEvent = z.infer<typeof AdminAuditEvent>;

export const AdminAuditPage = z.object({
  /** Newest first. */
  items: z.array(AdminAuditEvent),
  next_cursor: z.string().nullable(),
});
export type AdminAuditPage = z.infer<typeof AdminAuditPage>;

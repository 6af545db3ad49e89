import { z } from 'zod';
import { E164, InviteCode } from './common.js';

export const Profile = z.object({
  phone_number: E164,
  invite_code: InviteCode,
  /** The invite code this user activated, or null. */
  other_profile_invite_code: InviteCode.nullable(),
  /** Phones of the users who activated this user's code, oldest activation first, at most 100. */
  invited_users: z.array(E164),
  invited_users_count: z.number().int().nonnegative(),
  /** Continues the list at GET /profile/invited-users when there are more than 100. */
  invited_users_next_cursor: z.string().nullable(),
});
export type Profile = z.infer<typeof Profile>;

export const InvitedUsersQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).max(200).optional(),
});
export type InvitedUsersQuery = z.infer<typeof InvitedUsersQuery>;

export const InvitedUser = z.object({
  phone_number: E164,
  /** ISO 8601, UTC. */
  activated_at: z.string(),
});
export type InvitedUser = z.infer<typeof InvitedUser>;

export const InvitedUsersPage = z.object({
  items: z.array(InvitedUser),
  next_cursor: z.string().nullable(),
});
export type InvitedUsersPage = z.infer<typeof InvitedUsersPage>;

export const ActivateInviteBody = z.object({
  other_profile_invite_code: z
    .string({ required_error: 'is required', invalid_type_error: 'must be a string' })
    .trim()
    .toUpperCase()
    .regex(/^[A-Z0-9]{6}$/, 'must be 6 letters or digits'),
});
export type ActivateInviteBody = z.infer<typeof ActivateInviteBody>;

export const ActivateInviteResponse = z.object({
  message: z.string(),
  other_profile_invite_code: InviteCode,
});
export type ActivateInviteResponse = z.infer<typeof ActivateInviteResponse>;

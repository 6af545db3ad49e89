import type {
  AdminAuditPage,
  AdminBlockResponse,
  AdminRevokeSessionsResponse,
  AdminStats,
  AdminUnblockResponse,
  AdminUser,
  AdminUserDetail,
  AdminUsersPage,
  AuditEventType,
} from '@phone-auth/contract';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.js';
import type { Clock } from '../../lib/clock.js';
import { AppError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { maskPhone, parsePhoneOrThrow, type PhoneRules } from '../../lib/phone.js';
import { constantTimeEqual } from '../../lib/secrets.js';
import type { AuditLog } from '../audit/audit.js';
import type { RequestContext } from '../otp/otp.service.js';
import type { SessionService } from '../sessions/sessions.service.js';
import {
  findUserWithInviter,
  listAuditEvents,
  listSessions,
  listUsers,
  loadStats,
  setBlocked,
  topInviters,
  type UserRow,
} from './admin.repository.js';

export interface AdminService {
  /** False when ADMIN_API_TOKEN is not configured: the admin API then answers 404. */
  readonly enabled: boolean;
  /** Constant-time comparison with ADMIN_API_TOKEN. */
  checkToken(token: string): boolean;
  listUsers(query: { limit: number; cursor?: string | undefined; phone_prefix?: string | undefined }): Promise<AdminUsersPage>;
  getUser(rawPhone: string): Promise<AdminUserDetail>;
  block(rawPhone: string, ctx: RequestContext): Promise<AdminBlockResponse>;
  unblock(rawPhone: string, ctx: RequestContext): Promise<AdminUnblockResponse>;
  revokeSessions(rawPhone: string, ctx: RequestContext): Promise<AdminRevokeSessionsResponse>;
  stats(): Promise<AdminStats>;
  audit(query: { limit: number; cursor?: string | undefined; phone?: string | undefined; type?: AuditEventType | undefined }): Promise<AdminAuditPage>;
}

const SESSIONS_SHOWN = 100;
const TOP_INVITERS = 10;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function badCursor(): AppError {
  return new AppError('VALIDATION_FAILED', 'The cursor is not valid.', {
    fields: [{ path: 'query.cursor', message: 'is not a cursor returned by this API' }],
  });
}

/** Users cursor: base64url of `created_at|id` of the last user of the page. */
function encodeUserCursor(row: { created_at: Date; id: string }): string {
  return Buffer.from(`u:${row.created_at.toISOString()}|${row.id}`).toString('base64url');
}
/**
 * Only what encodeUserCursor writes is accepted: a time in toISOString's form with a four-digit
 * year from 0001 (anything else Date parses, such as year -010000 or 0000, is out of range for
 * timestamptz and would fail in Postgres as a 500).
 */
function decodeUserCursor(cursor: string): { createdAt: Date; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^u:([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z)\|(.+)$/.exec(text);
  const createdAt = match?.[1] ? new Date(match[1]) : null;
  const id = match?.[2];
  if (!createdAt || Number.isNaN(createdAt.getTime()) || createdAt.toISOString() !== match?.[1] || match[1].startsWith('0000')) throw badCursor();
  if (!id || !UUID.test(id)) throw badCursor();
  return { createdAt, id };
}

/** Audit cursor: base64url of the last event id. */
function encodeAuditCursor(id: string): string {
  return Buffer.from(`a:${id}`).toString('base64url');
}
/** The largest audit event id (bigint); a larger one would fail in Postgres as a 500. */
const MAX_BIGINT = 9_223_372_036_854_775_807n;

function decodeAuditCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^a:([0-9]{1,19})$/.exec(text);
  if (!match?.[1] || BigInt(match[1]) > MAX_BIGINT) throw badCursor();
  return match[1];
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toAdminUser(row: UserRow): AdminUser {
  return {
    id: row.id,
    phone_number: row.phone_number,
    invite_code: row.invite_code,
    invited_by: row.inviter_phone,
    invited_users_count: row.invited_count,
    blocked_at: iso(row.blocked_at),
    created_at: row.created_at.toISOString(),
  };
}

export function createAdminService(deps: {
  db: Kysely<Database>;
  sessions: SessionService;
  audit: AuditLog;
  clock: Clock;
  log: Logger;
  phoneRules: PhoneRules;
  config: { apiToken: string | undefined };
}): AdminService {
  const { db, sessions, audit, clock, log, config } = deps;
  // Operators look up any stored number, including countries no longer allowed for SMS.
  const rules: PhoneRules = { ...deps.phoneRules, allowedCountries: null };

  const phoneOf = (raw: string): string => parsePhoneOrThrow(raw, rules);

  async function userOf(raw: string): Promise<UserRow> {
    const row = await findUserWithInviter(db, phoneOf(raw));
    if (!row) throw new AppError('USER_NOT_FOUND');
    return row;
  }

  return {
    enabled: config.apiToken !== undefined,

    checkToken(token) {
      return config.apiToken !== undefined && constantTimeEqual(token, config.apiToken);
    },

    async listUsers(query) {
      const after = query.cursor ? decodeUserCursor(query.cursor) : null;
      const prefix = query.phone_prefix ? (query.phone_prefix.startsWith('+') ? query.phone_prefix : `+${query.phone_prefix}`) : null;
      const rows = await listUsers(db, { limit: query.limit, after, phonePrefix: prefix });
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      return {
        items: page.map(toAdminUser),
        next_cursor: rows.length > query.limit && last ? encodeUserCursor(last) : null,
      };
    },

    async getUser(rawPhone) {
      const row = await userOf(rawPhone);
      const now = clock.now();
      const list = await listSessions(db, row.id, SESSIONS_SHOWN);
      return {
        ...toAdminUser(row),
        inviter:
          row.inviter_phone && row.inviter_code && row.invite_activated_at
            ? { phone_number: row.inviter_phone, invite_code: row.inviter_code, activated_at: row.invite_activated_at.toISOString() }
            : null,
        sessions: list.map((s) => ({
          id: s.id,
          created_at: s.created_at.toISOString(),
          last_used_at: iso(s.last_used_at),
          expires_at: s.expires_at.toISOString(),
          revoked_at: iso(s.revoked_at),
          revoked_reason: s.revoked_reason,
          active: s.revoked_at === null && s.expires_at.getTime() > now,
          ip: s.ip,
          user_agent: s.user_agent,
        })),
      };
    },

    async block(rawPhone, ctx) {
      const phone = phoneOf(rawPhone);
      // Order matters: `blocked_at` is set first, so a login or refresh that starts after this
      // answers USER_BLOCKED; then every session is revoked and put on the denylist, so access
      // tokens already handed out are refused on their next request.
      const updated = await setBlocked(db, phone, new Date(clock.now()));
      if (!updated) throw new AppError('USER_NOT_FOUND');
      const revoked = await sessions.revokeAllForUser(updated.id, 'blocked');
      log.info({ phone: maskPhone(phone), userId: updated.id, sessionsRevoked: revoked }, 'user blocked by an operator');
      await audit.record({ type: 'user_blocked', userId: updated.id, phone, ip: ctx.ip, details: { sessions_revoked: revoked } });
      return { user: toAdminUser(await userOf(phone)), sessions_revoked: revoked };
    },

    async unblock(rawPhone, ctx) {
      const phone = phoneOf(rawPhone);
      const updated = await setBlocked(db, phone, null);
      if (!updated) throw new AppError('USER_NOT_FOUND');
      log.info({ phone: maskPhone(phone), userId: updated.id }, 'user unblocked by an operator');
      await audit.record({ type: 'user_unblocked', userId: updated.id, phone, ip: ctx.ip });
      return { user: toAdminUser(await userOf(phone)) };
    },

    async revokeSessions(rawPhone, ctx) {
      const row = await userOf(rawPhone);
      const revoked = await sessions.revokeAllForUser(row.id, 'revoked_by_admin');
      log.info({ phone: maskPhone(row.phone_number), userId: row.id, sessionsRevoked: revoked }, 'sessions revoked by an operator');
      await audit.record({ type: 'sessions_revoked', userId: row.id, phone: row.phone_number, ip: ctx.ip, details: { sessions_revoked: revoked } });
      return { phone_number: row.phone_number, sessions_revoked: revoked };
    },

    async stats() {
      const now = new Date(clock.now());
      const [counts, top] = await Promise.all([loadStats(db, now), topInviters(db, TOP_INVITERS)]);
      return {
        ...counts,
        top_inviters: top.map((t) => ({ phone_number: t.phone_number, invite_code: t.invite_code, invited_users_count: t.invited_count })),
      };
    },

    async audit(query) {
      const beforeId = query.cursor ? decodeAuditCursor(query.cursor) : null;
      const phone = query.phone ? phoneOf(query.phone) : null;
      const rows = await listAuditEvents(db, { limit: query.limit, beforeId, phone, type: query.type ?? null });
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      return {
        items: page.map((r) => ({
          id: String(r.id),
          type: r.type as AuditEventType,
          user_id: r.user_id,
          phone_number: r.phone_number,
          ip: r.ip,
          details: typeof r.details === 'string' ? (JSON.parse(r.details) as Record<string, unknown>) : r.details,
          created_at: r.created_at.toISOString(),
        })),
        next_cursor: rows.length > query.limit && last ? encodeAuditCursor(String(last.id)) : null,
      };
    },
  };
}

import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.js';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';

/** Every event type the audit log records (the spec's list). */
export const AUDIT_EVENT_TYPES = [
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
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export interface AuditEvent {
  type: AuditEventType;
  userId?: string | null;
  /** E.164. Never put a code, a token or a secret in an event. */
  phone?: string | null;
  ip?: string | null;
  details?: Record<string, string | number | boolean | null>;
}

export interface AuditLog {
  record(event: AuditEvent): Promise<void>;
}

/**
 * Writes audit events to Postgres. A failed write is logged and swallowed: the audit trail must
 * not turn a successful login into an error (the failure is visible in the logs and metrics).
 */
export function createAuditLog(deps: { db: Kysely<Database>; clock: Clock; log: Logger }): AuditLog {
  const { db, clock, log } = deps;
  return {
    async record(event) {
      try {
        await db
          .insertInto('audit_events')
          .values({
            type: event.type,
            user_id: event.userId ?? null,
            phone_number: event.phone ?? null,
            ip: event.ip ?? null,
            details: event.details ? JSON.stringify(event.details) : null,
            created_at: new Date(clock.now()),
          })
          .execute();
      } catch (err) {
        log.warn({ type: event.type, err: { message: (err as Error).message } }, 'audit write failed');
      }
    },
  };
}

import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface UsersTable {
  id: Generated<string>;
  /** E.164, unique. */
  phone_number: string;
  /** 6 characters, unique, never changes. */
  invite_code: string;
  /** The user whose invite code this user activated; set at most once. */
  invited_by: string | null;
  invite_activated_at: NullableTimestamp;
  /** Number of users who activated this user's code; kept in the activation transaction. */
  invited_count: Generated<number>;
  blocked_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  revoked_reason: string | null;
  ip: string | null;
  user_agent: string | null;
}

export interface RefreshTokensTable {
  /** SHA-256 of the opaque refresh token; the token itself is never stored. */
  token_hash: Buffer;
  session_id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  spent_at: NullableTimestamp;
}

export interface AuditEventsTable {
  id: Generated<string>;
  type: string;
  user_id: string | null;
  /** E.164 (never a code or a token). */
  phone_number: string | null;
  ip: string | null;
  details: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  created_at: Timestamp;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  audit_events: AuditEventsTable;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type Session = Selectable<SessionsTable>;

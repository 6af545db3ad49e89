import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/types.js';
import { constraintName, sqlState, UNIQUE_VIOLATION } from '../../lib/pg-errors.js';
import { generateInviteCode } from '../../lib/secrets.js';

export type LoginOutcome =
  | { kind: 'opened'; userId: string; created: boolean }
  | { kind: 'blocked'; userId: string }
  /** Lost a first-login race on the phone number: the winner's row is visible to the next statement. */
  | { kind: 'retry' };

/**
 * The database side of a login in ONE statement (a data-modifying CTE), so one round trip and one
 * commit (one WAL flush) instead of a select, an insert of the user, an insert of the session and
 * the audit writes, each committed on its own — login is bound by commits (bench: Performance).
 * The statement finds the user by phone or creates it (with `inviteCode`), opens the session with
 * its first refresh token, and writes the audit rows `otp_verified` then `login` (only
 * `otp_verified` when the user is blocked). One statement inserts all of that or nothing; the
 * foreign keys to the new user and session are checked at its end.
 *
 * Concurrency:
 * - Two first logins of one phone race on `users_phone_number_key`. `ON CONFLICT (phone_number)
 *   DO NOTHING` makes the loser insert nothing (it waits for the winner's commit); the loser's
 *   statement snapshot cannot see the winner's row, so it reports `retry` and writes nothing —
 *   the caller runs the statement again, which finds the winner's user.
 * - An invite-code collision is a unique violation on `users_invite_code_key`: the statement
 *   fails as a whole and the caller retries with a new code.
 * - Blocking: an existing user's row is read `FOR SHARE`. If a block's `UPDATE users SET
 *   blocked_at` is in flight, the read waits for it and sees the user blocked (read committed
 *   re-reads the newest row version); if the login came first, the block's UPDATE waits for this
 *   statement to commit, and the block's revocation that follows sees (and ends) this session.
 *   Either way no session of a blocked user survives the block. A user created by this statement
 *   cannot be blocked before it commits.
 */
export async function openLoginSession(
  db: Kysely<Database>,
  s: {
    phone: string;
    inviteCode: string;
    sessionId: string;
    now: Date;
    expiresAt: Date;
    refreshHash: Buffer;
    ip: string | null;
    userAgent: string | null;
  },
): Promise<LoginOutcome> {
  const result = await sql<{ id: string; blocked: boolean; created: boolean }>`
    with existing as (
      select id, blocked_at from users where phone_number = ${s.phone} for share
    ),
    inserted as (
      insert into users (phone_number, invite_code, created_at)
      select ${s.phone}, ${s.inviteCode}, ${s.now}::timestamptz
      where not exists (select 1 from existing)
      on conflict (phone_number) do nothing
      returning id, blocked_at
    ),
    u as (
      select id, blocked_at, false as created from existing
      union all
      select id, blocked_at, true as created from inserted
    ),
    session as (
      insert into sessions (id, user_id, created_at, expires_at, last_used_at, ip, user_agent)
      select ${s.sessionId}::uuid, u.id, ${s.now}::timestamptz, ${s.expiresAt}::timestamptz, ${s.now}::timestamptz, ${s.ip}::text, ${s.userAgent}::text
      from u where u.blocked_at is null
      returning id
    ),
    token as (
      insert into refresh_tokens (token_hash, session_id, created_at, expires_at)
      select ${s.refreshHash}::bytea, session.id, ${s.now}::timestamptz, ${s.expiresAt}::timestamptz from session
      returning session_id
    ),
    audit as (
      insert into audit_events (type, user_id, phone_number, ip, details, created_at)
      select e.type, e.user_id, ${s.phone}, ${s.ip}::text, e.details, ${s.now}::timestamptz
      from (
        select 1 as ord, 'otp_verified' as type, null::uuid as user_id, null::jsonb as details from u
        union all
        select 2, 'login', u.id, jsonb_build_object('session_id', token.session_id, 'user_created', u.created)
        from u cross join token
      ) e
      order by e.ord
    )
    select u.id, u.blocked_at is not null as blocked, u.created from u`.execute(db);
  const row = result.rows[0];
  if (!row) return { kind: 'retry' };
  if (row.blocked) return { kind: 'blocked', userId: row.id };
  return { kind: 'opened', userId: row.id, created: row.created };
}

/** openLoginSession's answers once a login is settled: the session opened, or the user blocked. */
export type SettledLogin = Exclude<LoginOutcome, { kind: 'retry' }> & {
  /** The invite code of the last attempt: the new user's when `created`. */
  inviteCode: string;
};

/** Attempts before openLoginSessionWithFreshCode gives up (each one lost a race or drew a taken code). */
const LOGIN_ATTEMPTS = 8;

/**
 * openLoginSession with a random invite code, run again after a lost first-login race (the next
 * run finds the winner's user) or an invite-code collision (with a new code). The login's own
 * statement, as the API and the bench's seed run it.
 */
export async function openLoginSessionWithFreshCode(
  db: Kysely<Database>,
  s: Omit<Parameters<typeof openLoginSession>[1], 'inviteCode'>,
): Promise<SettledLogin> {
  for (let attempt = 0; attempt < LOGIN_ATTEMPTS; attempt++) {
    const inviteCode = generateInviteCode();
    let outcome: LoginOutcome;
    try {
      outcome = await openLoginSession(db, { ...s, inviteCode });
    } catch (err) {
      if (sqlState(err) === UNIQUE_VIOLATION && constraintName(err) === 'users_invite_code_key') continue;
      throw err;
    }
    if (outcome.kind !== 'retry') return { ...outcome, inviteCode };
  }
  throw new Error(`could not open a login session after ${LOGIN_ATTEMPTS} attempts`);
}

export type RotateOutcome =
  | { kind: 'rotated'; sessionId: string; userId: string; phone: string }
  | { kind: 'reused'; sessionId: string; userId: string }
  | { kind: 'blocked'; sessionId: string; userId: string }
  | { kind: 'invalid' };

/**
 * A refresh-token rotation in ONE statement (a data-modifying CTE), so one round trip and one
 * commit: it spends `oldHash`, stores `newHash` for the same session, slides the session's
 * `last_used_at`/`expires_at` and writes the audit row `token_refreshed` — all of that or nothing.
 * It spends only a token that is unspent and unexpired, of a session that is not revoked, of a
 * user who is not blocked; otherwise it writes nothing and reports why:
 * - `reused`: the token is spent already (a replay; the caller revokes the session), whatever the
 *   state of its session or user;
 * - `invalid`: unknown or expired token, or a revoked session;
 * - `blocked`: the user is blocked. The token stays unspent, so after an unblock it is not
 *   mistaken for a replay.
 *
 * Concurrency (read committed):
 * - `target` reads the token, its session and its user with row locks: the token and session
 *   `FOR NO KEY UPDATE` (the lock their own UPDATEs below take anyway), the user `FOR SHARE`. A
 *   row lock waits for any transaction that is changing the row and then reads the row's newest
 *   committed version, not the statement's snapshot. So of concurrent refreshes with one token,
 *   one locks it and rotates; the others wait, then read it as spent and report `reused` — never
 *   `invalid` or `rotated`, although their snapshot still holds the unspent row. `UPDATE … WHERE
 *   spent_at IS NULL` stays the race gate for the write itself: at most one statement spends a
 *   token.
 * - Revocation: a logout or revocation in flight makes the lock wait and the refresh report
 *   `invalid`; one that comes later waits for this statement and then ends the session with its
 *   new token in it.
 * - Blocking (as openLoginSession): a block's `UPDATE users SET blocked_at` in flight makes the
 *   `FOR SHARE` read wait and see the user blocked, so nothing is spent; if the refresh locked
 *   the user first, the block waits for it to commit and the block's revocation that follows ends
 *   the session, new token included. Either way no live token is left to a blocked user.
 */
export async function rotateRefreshToken(
  db: Kysely<Database>,
  r: { oldHash: Buffer; newHash: Buffer; now: Date; expiresAt: Date; ip: string | null },
): Promise<RotateOutcome> {
  const result = await sql<{
    session_id: string;
    user_id: string;
    phone_number: string;
    spent: boolean;
    expired: boolean;
    revoked: boolean;
    blocked: boolean;
    rotated: boolean;
  }>`
    with target as (
      select t.session_id, s.user_id, u.phone_number,
             t.spent_at is not null as spent,
             t.expires_at <= ${r.now}::timestamptz as expired,
             s.revoked_at is not null as revoked,
             u.blocked_at is not null as blocked
      from refresh_tokens t
      join sessions s on s.id = t.session_id
      join users u on u.id = s.user_id
      where t.token_hash = ${r.oldHash}::bytea
      for no key update of t, s
      for share of u
    ),
    spent as (
      update refresh_tokens set spent_at = ${r.now}::timestamptz
      where token_hash = ${r.oldHash}::bytea
        and spent_at is null
        and session_id = (select session_id from target where not (spent or expired or revoked or blocked))
      returning session_id
    ),
    token as (
      insert into refresh_tokens (token_hash, session_id, created_at, expires_at)
      select ${r.newHash}::bytea, spent.session_id, ${r.now}::timestamptz, ${r.expiresAt}::timestamptz from spent
      returning session_id
    ),
    session as (
      update sessions set last_used_at = ${r.now}::timestamptz, expires_at = ${r.expiresAt}::timestamptz
      where id = (select session_id from token)
    ),
    audit as (
      insert into audit_events (type, user_id, phone_number, ip, details, created_at)
      select 'token_refreshed', target.user_id, target.phone_number, ${r.ip}::text,
             jsonb_build_object('session_id', token.session_id), ${r.now}::timestamptz
      from target cross join token
    )
    select target.*, exists (select 1 from token) as rotated from target`.execute(db);
  const row = result.rows[0];
  if (!row) return { kind: 'invalid' };
  if (row.rotated) return { kind: 'rotated', sessionId: row.session_id, userId: row.user_id, phone: row.phone_number };
  if (row.spent) return { kind: 'reused', sessionId: row.session_id, userId: row.user_id };
  if (row.expired || row.revoked) return { kind: 'invalid' };
  if (row.blocked) return { kind: 'blocked', sessionId: row.session_id, userId: row.user_id };
  // Unreachable: the token was read under its row lock as spendable, so the UPDATE spent it.
  throw new Error('refresh token rotation: a spendable token was not spent');
}

export interface Revocation {
  /** The sessions this call revoked (they were still active): what callers count and audit. */
  revoked: string[];
  /**
   * What the denylist must hold: the sessions just revoked and those of the same match revoked
   * since `denySince` (the oldest revocation whose access tokens may still be live).
   */
  deny: string[];
}

/**
 * Marks the matching sessions revoked, in one statement that also lists the ones revoked
 * recently. Why both: the denylist is written after this commits, so if that write fails (Redis
 * down: the caller answers 503), a retry finds nothing left to revoke — listing the recent
 * revocations too lets the retry put them on the denylist after all, instead of leaving their
 * access tokens working until they expire.
 *
 * Concurrency: `revoked_at IS NULL` in the UPDATE is the race gate, so of two concurrent
 * revocations each session is revoked (and counted) by exactly one. The second SELECT reads the
 * statement's snapshot, so it never lists a session this statement revokes; a session revoked by
 * a transaction still in flight is in neither list, and that transaction's caller denies it.
 */
export async function revokeSessions(
  db: Kysely<Database>,
  where: { sessionId: string } | { userId: string },
  reason: string,
  now: Date,
  denySince: Date,
): Promise<Revocation> {
  const [column, value] = 'sessionId' in where ? (['id', where.sessionId] as const) : (['user_id', where.userId] as const);
  const rows = await db
    .with('revoked', (qc) =>
      qc
        .updateTable('sessions')
        .set({ revoked_at: now, revoked_reason: reason })
        .where(column, '=', value)
        .where('revoked_at', 'is', null)
        .returning('id'),
    )
    .selectFrom('revoked')
    .select(['id', sql<boolean>`true`.as('newly')])
    .unionAll(
      db
        .selectFrom('sessions')
        .select(['id', sql<boolean>`false`.as('newly')])
        .where(column, '=', value)
        .where('revoked_at', '>=', denySince),
    )
    .execute();
  return { revoked: rows.filter((r) => r.newly).map((r) => r.id), deny: rows.map((r) => r.id) };
}

/** Ids of the sessions revoked at or after `since` (sessions_revoked_at_idx). */
export async function listRevokedSince(db: Kysely<Database>, since: Date): Promise<string[]> {
  const rows = await db.selectFrom('sessions').select('id').where('revoked_at', '>=', since).execute();
  return rows.map((r) => r.id);
}

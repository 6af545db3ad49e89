import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/types.js';

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

export type RotateOutcome =
  | { kind: 'rotated'; sessionId: string; userId: string; phone: string }
  | { kind: 'reused'; sessionId: string; userId: string }
  | { kind: 'blocked'; sessionId: string; userId: string }
  | { kind: 'invalid' };

/** Thrown inside the rotation transaction to undo the spend while still reporting an outcome. */
class RollbackWith extends Error {
  constructor(readonly outcome: RotateOutcome) {
    super('rollback');
  }
}

/**
 * Spends `oldHash` and stores `newHash` for the same session, in one transaction.
 *
 * Concurrency: `UPDATE … SET spent_at WHERE spent_at IS NULL` is the race gate — of concurrent
 * refreshes with one token exactly one marks it spent and gets a new pair. A token that is
 * already spent is a replay: the caller revokes the session (reuse detection).
 *
 * When the token was spendable but its session is revoked or its user blocked, the transaction
 * is rolled back: the token stays unspent, so it is not later mistaken for a replay.
 */
export async function rotateRefreshToken(
  db: Kysely<Database>,
  r: { oldHash: Buffer; newHash: Buffer; now: Date; expiresAt: Date },
): Promise<RotateOutcome> {
  try {
    return await rotateInTransaction(db, r);
  } catch (err) {
    if (err instanceof RollbackWith) return err.outcome;
    throw err;
  }
}

async function rotateInTransaction(
  db: Kysely<Database>,
  r: { oldHash: Buffer; newHash: Buffer; now: Date; expiresAt: Date },
): Promise<RotateOutcome> {
  return db.transaction().execute(async (trx) => {
    const spent = await trx
      .updateTable('refresh_tokens')
      .set({ spent_at: r.now })
      .where('token_hash', '=', r.oldHash)
      .where('spent_at', 'is', null)
      .where('expires_at', '>', r.now)
      .returning('session_id')
      .executeTakeFirst();
    if (!spent) {
      const known = await trx
        .selectFrom('refresh_tokens')
        .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
        .select(['refresh_tokens.spent_at', 'sessions.id', 'sessions.user_id'])
        .where('refresh_tokens.token_hash', '=', r.oldHash)
        .executeTakeFirst();
      if (known?.spent_at) return { kind: 'reused', sessionId: known.id, userId: known.user_id };
      return { kind: 'invalid' };
    }
    const session = await trx
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select(['sessions.id', 'sessions.user_id', 'users.phone_number', 'users.blocked_at'])
      .where('sessions.id', '=', spent.session_id)
      .where('sessions.revoked_at', 'is', null)
      .executeTakeFirst();
    if (!session) throw new RollbackWith({ kind: 'invalid' });
    if (session.blocked_at) throw new RollbackWith({ kind: 'blocked', sessionId: session.id, userId: session.user_id });
    await trx
      .insertInto('refresh_tokens')
      .values({ token_hash: r.newHash, session_id: session.id, created_at: r.now, expires_at: r.expiresAt })
      .execute();
    await trx
      .updateTable('sessions')
      .set({ last_used_at: r.now, expires_at: r.expiresAt })
      .where('id', '=', session.id)
      .execute();
    return { kind: 'rotated', sessionId: session.id, userId: session.user_id, phone: session.phone_number };
  });
}

/** Marks sessions revoked; returns the ids that were still active (to put on the denylist). */
export async function revokeSessions(
  db: Kysely<Database>,
  where: { sessionId: string } | { userId: string },
  reason: string,
  now: Date,
): Promise<string[]> {
  let q = db.updateTable('sessions').set({ revoked_at: now, revoked_reason: reason }).where('revoked_at', 'is', null);
  q = 'sessionId' in where ? q.where('id', '=', where.sessionId) : q.where('user_id', '=', where.userId);
  const rows = await q.returning('id').execute();
  return rows.map((r) => r.id);
}

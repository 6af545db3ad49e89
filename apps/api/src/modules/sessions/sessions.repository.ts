import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/types.js';

/**
 * Opens a session with its first refresh token in one statement (a data-modifying CTE): one round
 * trip and one commit instead of BEGIN, two inserts and COMMIT on a pooled connection — login is
 * bound by round trips and commits (bench: Performance). Still atomic: one statement inserts both
 * rows or neither; the foreign key from the token to the session is checked at its end.
 *
 * Returns false, inserting nothing, when the user is blocked. Concurrency with blocking: the
 * insert reads the user row `FOR SHARE`. If a block's `UPDATE users SET blocked_at` is in flight,
 * the insert waits for it and then sees the user blocked; if the insert came first, the block's
 * UPDATE waits for this statement to commit, and the block's revocation that follows sees (and
 * ends) this session. Either way no session of a blocked user survives the block.
 */
export async function insertSession(
  db: Kysely<Database>,
  s: { id: string; userId: string; now: Date; expiresAt: Date; refreshHash: Buffer; ip: string | null; userAgent: string | null },
): Promise<boolean> {
  const result = await sql`
    with session as (
      insert into sessions (id, user_id, created_at, expires_at, last_used_at, ip, user_agent)
      select ${s.id}::uuid, u.id, ${s.now}::timestamptz, ${s.expiresAt}::timestamptz, ${s.now}::timestamptz, ${s.ip}::text, ${s.userAgent}::text
      from (select id from users where id = ${s.userId} and blocked_at is null for share) u
      returning id
    )
    insert into refresh_tokens (token_hash, session_id, created_at, expires_at)
    select ${s.refreshHash}::bytea, session.id, ${s.now}::timestamptz, ${s.expiresAt}::timestamptz from session`.execute(db);
  return result.numAffectedRows === 1n;
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

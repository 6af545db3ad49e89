import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../db/types.js';

export type ActivationOutcome =
  | { kind: 'activated'; code: string }
  | { kind: 'not_found' }
  | { kind: 'own' }
  | { kind: 'cycle' }
  | { kind: 'already_activated' };

/** Arbitrary constant naming the advisory lock that serialises invite activations. */
const ACTIVATION_LOCK = 0x1a7e_0001;

/**
 * Makes `userId` an invitee of the owner of `code`, in one transaction.
 *
 * Concurrency:
 * - "At most one activation per user" is the conditional `UPDATE … WHERE invited_by IS NULL`:
 *   of any number of concurrent activations by one user, exactly one updates a row.
 * - "No cycles" needs more than a row constraint: A activating B's code while B activates A's
 *   would each see no cycle in the other's uncommitted state (write skew). A transaction-scoped
 *   advisory lock serialises activations, so every cycle check sees all committed edges.
 *   Activations happen once per user, so one lock is not a throughput concern.
 *
 * Round trips: the lock is its own statement (the checks must read a snapshot taken after it is
 * granted — under READ COMMITTED each statement takes a fresh one); everything else is one
 * statement, so the lock is held for BEGIN, lock, statement, COMMIT instead of eight round trips
 * (bench: Performance).
 */
export async function activateInvite(
  db: Kysely<Database>,
  userId: string,
  code: string,
  now: Date,
): Promise<ActivationOutcome> {
  return db.transaction().execute(async (trx: Transaction<Database>) => {
    await sql`select pg_advisory_xact_lock(${ACTIVATION_LOCK})`.execute(trx);

    // The checks run in the order the outcomes are reported: the caller exists and has not
    // activated yet, the code exists, it is not the caller's own, and its owner was not invited
    // (directly or through a chain) by the caller. The walk goes up from the owner through the
    // users who invited them; the graph is a forest (no cycle ever commits), so it ends; the
    // depth guard is belt and braces. Only when every check passes are the two rows updated.
    const result = await sql<{ kind: Exclude<ActivationOutcome['kind'], 'activated'> | 'ok'; updated: number; code: string | null }>`
      with recursive
      me as (select id, invited_by from users where id = ${userId}),
      owner as (select id, invite_code from users where invite_code = ${code}),
      chain(id, invited_by, depth) as (
        select u.id, u.invited_by, 0 from users u join owner o on u.id = o.id
        union all
        select u.id, u.invited_by, c.depth + 1 from users u join chain c on u.id = c.invited_by
        where c.depth < 100000
      ),
      verdict as (
        select case
          when not exists (select 1 from me) then 'not_found'
          when (select invited_by from me) is not null then 'already_activated'
          when not exists (select 1 from owner) then 'not_found'
          when (select id from owner) = ${userId} then 'own'
          when exists (select 1 from chain where id = ${userId}) then 'cycle'
          else 'ok'
        end as kind
      ),
      -- The race gate: only a user with no inviter yet is updated.
      activated as (
        update users set invited_by = (select id from owner), invite_activated_at = ${now}
        where id = ${userId} and invited_by is null and (select kind from verdict) = 'ok'
        returning id
      ),
      counted as (
        update users set invited_count = invited_count + 1
        where id = (select id from owner) and exists (select 1 from activated)
        returning id
      )
      select (select kind from verdict) as kind,
             (select count(*) from activated)::int as updated,
             (select invite_code from owner) as code,
             (select count(*) from counted)::int as counted`.execute(trx);
    const row = result.rows[0];
    if (!row) throw new Error('activation statement returned no row');
    if (row.kind !== 'ok') return { kind: row.kind };
    if (row.updated !== 1 || row.code === null) return { kind: 'already_activated' };
    return { kind: 'activated', code: row.code };
  });
}

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
 */
export async function activateInvite(
  db: Kysely<Database>,
  userId: string,
  code: string,
  now: Date,
): Promise<ActivationOutcome> {
  return db.transaction().execute(async (trx: Transaction<Database>) => {
    await sql`select pg_advisory_xact_lock(${ACTIVATION_LOCK})`.execute(trx);

    const me = await trx.selectFrom('users').select(['id', 'invited_by']).where('id', '=', userId).executeTakeFirst();
    if (!me) return { kind: 'not_found' };
    if (me.invited_by !== null) return { kind: 'already_activated' };

    const owner = await trx.selectFrom('users').select(['id', 'invite_code']).where('invite_code', '=', code).executeTakeFirst();
    if (!owner) return { kind: 'not_found' };
    if (owner.id === userId) return { kind: 'own' };

    // Walk up from the owner through the users who invited them; reaching the caller means
    // the caller (directly or through a chain) invited the owner. The graph is a forest (no
    // cycles ever commit), so the walk ends; the depth guard is belt and braces.
    const cycle = await sql<{ found: number }>`
      with recursive chain(id, invited_by, depth) as (
        select id, invited_by, 0 from users where id = ${owner.id}
        union all
        select u.id, u.invited_by, c.depth + 1 from users u join chain c on u.id = c.invited_by
        where c.depth < 100000
      )
      select 1 as found from chain where id = ${userId} limit 1`.execute(trx);
    if (cycle.rows.length > 0) return { kind: 'cycle' };

    // The race gate: only a user with no inviter yet is updated.
    const updated = await trx
      .updateTable('users')
      .set({ invited_by: owner.id, invite_activated_at: now })
      .where('id', '=', userId)
      .where('invited_by', 'is', null)
      .executeTakeFirst();
    if (updated.numUpdatedRows !== 1n) return { kind: 'already_activated' };

    await trx
      .updateTable('users')
      .set((eb) => ({ invited_count: eb('invited_count', '+', 1) }))
      .where('id', '=', owner.id)
      .execute();
    return { kind: 'activated', code: owner.invite_code };
  });
}

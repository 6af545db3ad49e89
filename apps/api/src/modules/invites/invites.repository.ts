import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../db/types.js';

export type ActivationOutcome =
  | { kind: 'activated'; code: string }
  | { kind: 'not_found' }
  | { kind: 'own' }
  | { kind: 'cycle' }
  | { kind: 'already_activated' }
  /** The code's tree changed its root under every one of MAX_ATTEMPTS attempts; nothing was written. */
  | { kind: 'contended' };

type Verdict = Exclude<ActivationOutcome['kind'], 'activated' | 'contended'> | 'ok' | 'retry';

/**
 * First half of every activation lock's two-int advisory key (`pg_advisory_xact_lock(int, int)`):
 * a namespace, so these locks cannot collide with any other advisory lock. The second half is
 * `hashtext(user id)`.
 */
export const ACTIVATION_LOCK_NAMESPACE = 0x1a7e_0001;

/** Attempts before giving up with `contended` (each retry means a tree was merged meanwhile). */
const MAX_ATTEMPTS = 5;

/** Thrown inside the transaction to roll it back (releasing its locks) and run it again. */
class RetryActivation extends Error {
  constructor() {
    super('retry activation');
  }
}

/**
 * Makes `userId` an invitee of the owner of `code`, and writes the audit event of the outcome
 * (`invite_activated`, or `invite_failed` with the outcome), in one transaction.
 *
 * Concurrency:
 * - "At most one activation per user" is the conditional `UPDATE … WHERE invited_by IS NULL`:
 *   of any number of concurrent activations by one user, exactly one updates a row.
 * - "No cycles" needs more than a row constraint: A activating B's code while B activates A's
 *   would each see no cycle in the other's uncommitted state (write skew). Per-tree advisory locks
 *   close it without serialising unrelated activations:
 *   - The invite graph is a forest (`invited_by` points up; no cycle ever commits), and only a
 *     root (`invited_by IS NULL`) can activate a code. Activating A with the code of B adds the
 *     edge A→B; that closes a cycle iff A is an ancestor of B, i.e. (A being a root) iff
 *     root(B) = A.
 *   - Edges are only ever added, and only at a root. So the path from B up to R = root(B) never
 *     changes except at R itself, and R stops being a root only by R's own activation.
 *   - Every activation by A takes an EXCLUSIVE lock on key(A) and a SHARED lock on key(R), R being
 *     root(B) as read just before locking (only the exclusive one if the keys are equal: own code,
 *     or a hash collision). While we hold them, R cannot activate (that needs R's key exclusively)
 *     so root(B) stays R, and A stays a root. Many activations into one tree share its root's lock
 *     and do not wait for each other; crossed activations (A→B's tree while B's root activates
 *     into A's tree) conflict on the exclusive lock and run one after the other.
 *   - R is read before the locks are granted, so it may be stale (R activated meanwhile). The
 *     verdict runs in a later statement — under READ COMMITTED that is a fresh snapshot, taken
 *     after the locks were granted, so it sees every edge committed by their previous holders —
 *     and re-reads root(B): if it is no longer R, the transaction rolls back and starts over
 *     (MAX_ATTEMPTS times, then `contended`). A cycle (A among B's ancestors) is final whatever
 *     the locks: A is a root we hold exclusively and edges are never removed.
 *   - No deadlock: the (at most two) locks are taken in ascending key order in one statement and
 *     held to the end of the transaction, so a waiter only ever holds lower keys than the one it
 *     waits for, shared or exclusive. The row locks of the verdict statement (A's row, then the
 *     owner's row) are taken after all advisory locks; the owner's row is A's row of no other
 *     running verdict (activating the owner would need its key exclusively, and we hold it
 *     shared — the owner of a code whose tree we join is either R or below R, and only R can
 *     activate).
 *   Advisory locks rather than row locks: a lock on R's row that blocks R's activation (an
 *   UPDATE of a non-key column) would also block the `invited_count` update of every activation
 *   of R's own code. Two users whose keys collide (`hashtext`, 32 bits) only wait for each other.
 *   Under the embedded PGlite backend there is one connection and statements run one at a time;
 *   the locks are always granted at once and the retry never happens.
 *
 * Round trips: BEGIN; one statement that reads R and takes both locks; one statement with the
 * checks, both updates and the audit row; COMMIT. A retry rolls the whole attempt back, so its
 * audit row is never written twice (a `retry` verdict writes nothing anyway).
 */
export async function activateInvite(
  db: Kysely<Database>,
  a: { userId: string; code: string; now: Date; ip: string | null },
): Promise<ActivationOutcome> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    try {
      return await db.transaction().execute((trx) => attemptActivation(trx, a));
    } catch (err) {
      if (!(err instanceof RetryActivation)) throw err;
    }
  }
  return { kind: 'contended' };
}

/**
 * The CTE `chain(id, invited_by, depth)`: the owner of `code` and everyone above them, walking up
 * `invited_by` to the root. The graph is a forest (no cycle ever commits), so the walk ends; the
 * depth guard is belt and braces. Both statements of an activation walk it: the first to find the
 * root to lock, the second (after the locks) to judge.
 */
function chainUpFrom(code: string) {
  return sql`chain(id, invited_by, depth) as (
      select id, invited_by, 0 from users where invite_code = ${code}
      union all
      select u.id, u.invited_by, c.depth + 1 from users u join chain c on u.id = c.invited_by
      where c.depth < 100000
    )`;
}

async function attemptActivation(
  trx: Transaction<Database>,
  a: { userId: string; code: string; now: Date; ip: string | null },
): Promise<ActivationOutcome> {
  const { userId, code, now, ip } = a;

  // The locks, in ascending key order: the first in a materialised CTE, the second in the outer
  // select over its row, so the second is only requested once the first is granted. `root` is
  // null when no user has the code (then only the caller's key is locked).
  const locked = await sql<{ root: string | null }>`
    with recursive
    ${chainUpFrom(code)},
    root as (select id from chain where invited_by is null limit 1),
    k as materialized (
      select hashtext(${userId}::text) as mine, r.id as root, hashtext(r.id::text) as theirs
      from (select 1) one left join root r on true
    ),
    first as materialized (
      select root, mine, theirs,
             (case when theirs is null or theirs >= mine
                   then pg_advisory_xact_lock(${ACTIVATION_LOCK_NAMESPACE}::int, mine)
                   else pg_advisory_xact_lock_shared(${ACTIVATION_LOCK_NAMESPACE}::int, theirs) end)::text as granted
      from k
    )
    select root,
           (case when theirs is null or theirs = mine then ''
                 when theirs > mine then pg_advisory_xact_lock_shared(${ACTIVATION_LOCK_NAMESPACE}::int, theirs)::text
                 else pg_advisory_xact_lock(${ACTIVATION_LOCK_NAMESPACE}::int, mine)::text end) as granted_too
    from first
    where granted is not null`.execute(trx);
  const lockedRow = locked.rows[0];
  if (!lockedRow) throw new Error('activation lock statement returned no row');
  const expectedRoot = lockedRow.root;

  // The checks run in the order the outcomes are reported: the caller exists and has not
  // activated yet, the code exists, it is not the caller's own, and its owner was not invited
  // (directly or through a chain) by the caller — the caller is not in the owner's chain. Only if
  // the chain's root is still the one locked above is the activation allowed ('retry' otherwise).
  // When every check passes the two rows are updated; the audit row records the outcome,
  // whatever it is, except a retry.
  const result = await sql<{ kind: Verdict; updated: number; code: string | null }>`
    with recursive
    me as (select id, invited_by from users where id = ${userId}),
    owner as (select id, invite_code from users where invite_code = ${code}),
    ${chainUpFrom(code)},
    verdict as (
      select case
        when not exists (select 1 from me) then 'not_found'
        when (select invited_by from me) is not null then 'already_activated'
        when not exists (select 1 from owner) then 'not_found'
        when (select id from owner) = ${userId} then 'own'
        when exists (select 1 from chain where id = ${userId}) then 'cycle'
        when (select id from chain where invited_by is null limit 1) is distinct from ${expectedRoot}::uuid then 'retry'
        else 'ok'
      end as kind
    ),
    -- The race gate: only a user with no inviter yet is updated.
    activated as (
      update users set invited_by = (select id from owner), invite_activated_at = ${now}
      where id = ${userId} and invited_by is null and (select kind from verdict) = 'ok'
      returning id
    ),
    -- Runs although nothing reads it (Postgres runs every data-modifying CTE).
    counted as (
      update users set invited_count = invited_count + 1
      where id = (select id from owner) and exists (select 1 from activated)
    ),
    outcome as (
      select case
        when v.kind <> 'ok' then v.kind
        when exists (select 1 from activated) then 'activated'
        else 'already_activated'
      end as kind
      from verdict v where v.kind <> 'retry'
    ),
    audit as (
      insert into audit_events (type, user_id, ip, details, created_at)
      select case when o.kind = 'activated' then 'invite_activated' else 'invite_failed' end,
             (select id from me), ${ip}::text, jsonb_build_object('code', ${code}::text, 'outcome', o.kind),
             ${now}::timestamptz
      from outcome o
    )
    select (select kind from verdict) as kind,
           (select count(*) from activated)::int as updated,
           (select invite_code from owner) as code`.execute(trx);
  const row = result.rows[0];
  if (!row) throw new Error('activation statement returned no row');
  if (row.kind === 'retry') throw new RetryActivation();
  if (row.kind !== 'ok') return { kind: row.kind };
  if (row.updated !== 1 || row.code === null) return { kind: 'already_activated' };
  return { kind: 'activated', code: row.code };
}

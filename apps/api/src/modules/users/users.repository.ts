import { sql, type CompiledQuery, type Kysely } from 'kysely';
import type { Database } from '../../db/types.js';

export interface ProfileRow {
  /** The access token's session exists, belongs to the user and is not revoked. */
  session_active: boolean;
  blocked: boolean;
  phone_number: string;
  invite_code: string;
  invited_count: number;
  other_profile_invite_code: string | null;
  /** Phones of up to `limit + 1` invitees, oldest activation first (one extra tells whether more exist). */
  invitees: string[];
  /** The id of the `limit`-th invitee: where the next page starts when there are more. */
  cursor_id: string | null;
}

/**
 * Whether the session is live, as a scalar subquery (primary-key lookup). The read endpoints put
 * it into their own statement, so the revocation check costs no extra round trip; the sessions
 * table is the record every revocation writes first (logout, reuse detection, blocking).
 *
 * Prepared statements run on a generic plan, made without the parameters' values. With
 * `s.user_id = $1` beside `s.id = $2`, such a plan may look the session up through
 * sessions_user_id_idx and filter on the id — every session of the user scanned on every read.
 * `is not distinct from` (the same test for a non-null id) cannot drive an index, so the plan
 * always takes the primary key. The invitee cursor below is written the same way.
 */
const sessionActive = (userId: string, sessionId: string) =>
  sql<boolean>`exists (select 1 from sessions s where s.id = ${sessionId}::uuid and s.user_id is not distinct from ${userId}::uuid and s.revoked_at is null)`;

/**
 * The whole profile in one round trip: whether the session is live, the user, the inviter's code
 * and the first invitees' phones. No row: the user is gone.
 */
export async function loadProfile(
  db: Kysely<Database>,
  who: { userId: string; sessionId: string },
  limit: number,
): Promise<ProfileRow | undefined> {
  const result = await db.executeQuery(profileQuery(db, who, limit));
  // pg and PGlite both hand json columns over parsed.
  return result.rows[0]?.profile;
}

type ProfileResult = { profile: ProfileRow };

/** Stand-ins for the ids while compiling (no id looks like them). */
const USER_ID = '\u0000user_id';
const SESSION_ID = '\u0000session_id';
const compiledProfiles = new WeakMap<Kysely<Database>, Map<number, CompiledQuery<ProfileResult>>>();

/**
 * profileStatement compiled once per database handle and limit, then only its ids bound: the
 * statement's text never changes, and building and compiling it on every read cost ~2.5 % of the
 * API's CPU on GET /profile/ (perf).
 */
function profileQuery(db: Kysely<Database>, who: { userId: string; sessionId: string }, limit: number): CompiledQuery<ProfileResult> {
  let byLimit = compiledProfiles.get(db);
  if (!byLimit) compiledProfiles.set(db, (byLimit = new Map()));
  let compiled = byLimit.get(limit);
  if (!compiled) byLimit.set(limit, (compiled = profileStatement({ userId: USER_ID, sessionId: SESSION_ID }, limit).compile(db)));
  return {
    ...compiled,
    parameters: compiled.parameters.map((p) => (p === USER_ID ? who.userId : p === SESSION_ID ? who.sessionId : p)),
  };
}

/**
 * loadProfile's statement (exported so tests can look at its plan). One json column rather than
 * a column per field: the driver describes, and builds parsers for, every column of every
 * execution, which cost more API CPU than the JSON (bench: GET /profile/, see optimisations.json).
 */
export function profileStatement(who: { userId: string; sessionId: string }, limit: number) {
  const { userId } = who;
  return sql<ProfileResult>`
    select json_build_object(
      'session_active', ${sessionActive(userId, who.sessionId)},
      'blocked', u.blocked_at is not null,
      'phone_number', u.phone_number,
      'invite_code', u.invite_code,
      'invited_count', u.invited_count,
      'other_profile_invite_code', (select i.invite_code from users i where i.id = u.invited_by),
      'invitees', coalesce(x.phones, '[]'::json),
      'cursor_id', x.cursor_id) as profile
    from users u
    left join lateral (
      select json_agg(p.phone_number order by p.invite_activated_at, p.id) as phones,
             (array_agg(p.id order by p.invite_activated_at, p.id))[${limit}::int] as cursor_id
      from (select v.phone_number, v.id, v.invite_activated_at from users v
            where v.invited_by = u.id
            order by v.invite_activated_at, v.id
            limit ${limit + 1}) p
    ) x on true
    where u.id = ${userId}`;
}

export interface InviteePage {
  /** As in ProfileRow: when false, `items` is empty. */
  session_active: boolean;
  /** Up to `limit + 1` invitees in keyset order (one extra tells whether more exist). */
  items: { phone_number: string; activated_at: string }[];
  /** The id of the `limit`-th invitee: where the next page starts when there are more. */
  cursor_id: string | null;
}

/**
 * One page of a user's invitees, keyset-paginated on (invite_activated_at, id): stable under
 * concurrent activations, and as cheap for the last page as for the first (index
 * users_invited_by_activation_idx). The session check rides along in the same statement: the
 * page is joined to a one-row "is the session live" select, so an empty page still answers it.
 */
export async function listInvitees(
  db: Kysely<Database>,
  who: { userId: string; sessionId: string },
  opts: { limit: number; afterId: string | null },
): Promise<InviteePage> {
  const result = await inviteePageStatement(who, opts).execute(db);
  // One row always (grouped by the one-row session check), its json parsed by the driver.
  return result.rows[0]?.page ?? { session_active: false, items: [], cursor_id: null };
}

/**
 * listInvitees' statement (exported so tests can look at its plan). Like the profile, the page
 * comes back as one json value, activation times already in the API's format (toISOString's:
 * UTC, milliseconds): a row per invitee with a timestamp to parse and format again cost the API
 * more than the rows themselves (bench: invitees scale run, optimisations.json).
 */
export function inviteePageStatement(who: { userId: string; sessionId: string }, opts: { limit: number; afterId: string | null }) {
  const inviterId = who.userId;
  const after = opts.afterId
    ? sql`and (v.invite_activated_at, v.id) > (
        select c.invite_activated_at, c.id from users c
        where c.id = ${opts.afterId}::uuid and c.invited_by is not distinct from ${inviterId}::uuid)`
    : sql``;
  return sql<{ page: InviteePage }>`
    select json_build_object(
      'session_active', a.session_active,
      'items', coalesce(json_agg(json_build_object(
                 'phone_number', p.phone_number,
                 'activated_at', to_char(p.activated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                 order by p.activated_at, p.id) filter (where p.id is not null), '[]'::json),
      'cursor_id', (array_agg(p.id order by p.activated_at, p.id) filter (where p.id is not null))[${opts.limit}::int]) as page
    from (select ${sessionActive(inviterId, who.sessionId)} as session_active) a
    left join lateral (
      select v.phone_number, v.invite_activated_at as activated_at, v.id
      from users v
      where a.session_active and v.invited_by = ${inviterId}::uuid ${after}
      order by v.invite_activated_at, v.id
      limit ${opts.limit + 1}
    ) p on true
    group by a.session_active`;
}

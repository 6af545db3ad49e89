import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/types.js';

export interface ProfileRow {
  phone_number: string;
  invite_code: string;
  blocked_at: Date | null;
  invited_count: number;
  other_profile_invite_code: string | null;
  /** Up to `limit + 1` invitees, oldest activation first (one extra tells whether more exist). */
  invitees: { phone_number: string; id: string }[];
}

/** The whole profile in one round trip: the user, the inviter's code and the first invitees. */
export async function loadProfile(db: Kysely<Database>, userId: string, limit: number): Promise<ProfileRow | undefined> {
  const result = await sql<ProfileRow>`
    select u.phone_number, u.invite_code, u.blocked_at, u.invited_count,
      (select i.invite_code from users i where i.id = u.invited_by) as other_profile_invite_code,
      coalesce((
        select json_agg(json_build_object('phone_number', x.phone_number, 'id', x.id)
                        order by x.invite_activated_at, x.id)
        from (select v.phone_number, v.id, v.invite_activated_at from users v
              where v.invited_by = u.id
              order by v.invite_activated_at, v.id
              limit ${limit + 1}) x
      ), '[]'::json) as invitees
    from users u
    where u.id = ${userId}`.execute(db);
  const row = result.rows[0];
  if (!row) return undefined;
  // PGlite returns json as parsed values already; pg too. Be defensive about strings.
  const invitees = typeof row.invitees === 'string' ? (JSON.parse(row.invitees) as ProfileRow['invitees']) : row.invitees;
  return { ...row, invitees };
}

/**
 * One page of a user's invitees, keyset-paginated on (invite_activated_at, id): stable under
 * concurrent activations, and as cheap for the last page as for the first (index
 * users_invited_by_activation_idx).
 */
export async function listInvitees(
  db: Kysely<Database>,
  inviterId: string,
  opts: { limit: number; afterId: string | null },
): Promise<{ phone_number: string; activated_at: Date; id: string }[]> {
  let query = db
    .selectFrom('users')
    .select(['phone_number', 'invite_activated_at as activated_at', 'id'])
    .where('invited_by', '=', inviterId);
  if (opts.afterId) {
    const afterId = opts.afterId;
    query = query.where(({ eb, refTuple, selectFrom }) =>
      eb(
        refTuple('invite_activated_at', 'id'),
        '>',
        selectFrom('users as c')
          .select(['c.invite_activated_at', 'c.id'])
          .where('c.id', '=', afterId)
          .where('c.invited_by', '=', inviterId)
          .$asTuple('invite_activated_at', 'id'),
      ),
    );
  }
  const rows = await query.orderBy('invite_activated_at').orderBy('id').limit(opts.limit + 1).execute();
  return rows.map((r) => ({ phone_number: r.phone_number, activated_at: r.activated_at as Date, id: r.id }));
}

import { sql, type Kysely } from 'kysely';
import type { Database, Session, User } from '../../db/types.js';

export interface UserRow extends User {
  inviter_phone: string | null;
  inviter_code: string | null;
}

function usersWithInviter(db: Kysely<Database>) {
  return db
    .selectFrom('users')
    .leftJoin('users as inviter', 'inviter.id', 'users.invited_by')
    .selectAll('users')
    .select(['inviter.phone_number as inviter_phone', 'inviter.invite_code as inviter_code']);
}

/**
 * One page of users, newest first, keyset-paginated on (created_at, id) so a page never skips or
 * repeats a user when others sign up meanwhile. Returns up to `limit + 1` rows (one extra tells
 * whether there is a next page).
 */
export async function listUsers(
  db: Kysely<Database>,
  opts: { limit: number; after: { createdAt: Date; id: string } | null; phonePrefix: string | null },
): Promise<UserRow[]> {
  let query = usersWithInviter(db);
  if (opts.phonePrefix) {
    // The prefix is validated as `+` and digits, so it holds no LIKE wildcards.
    query = query.where('users.phone_number', 'like', `${opts.phonePrefix}%`);
  }
  if (opts.after) {
    const { createdAt, id } = opts.after;
    query = query.where(({ eb, refTuple, tuple }) =>
      eb(refTuple('users.created_at', 'users.id'), '<', tuple(createdAt, id)),
    );
  }
  return query
    .orderBy('users.created_at', 'desc')
    .orderBy('users.id', 'desc')
    .limit(opts.limit + 1)
    .execute();
}

export async function findUserWithInviter(db: Kysely<Database>, phone: string): Promise<UserRow | undefined> {
  return usersWithInviter(db).where('users.phone_number', '=', phone).executeTakeFirst();
}

export async function listSessions(db: Kysely<Database>, userId: string, limit: number): Promise<Session[]> {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute();
}

/**
 * Sets or clears `blocked_at`. Blocking keeps the first block time when the user is blocked
 * already (`coalesce`), so repeating the command is harmless.
 */
export async function setBlocked(db: Kysely<Database>, phone: string, blockedAt: Date | null): Promise<User | undefined> {
  return db
    .updateTable('users')
    .set({ blocked_at: blockedAt === null ? null : sql<Date>`coalesce(blocked_at, ${blockedAt})` })
    .where('phone_number', '=', phone)
    .returningAll()
    .executeTakeFirst();
}

export interface StatsRow {
  users_total: number;
  users_last_24h: number;
  users_blocked: number;
  invite_activations_total: number;
  invite_activations_last_24h: number;
  active_sessions: number;
}

export async function loadStats(db: Kysely<Database>, now: Date): Promise<StatsRow> {
  const since = new Date(now.getTime() - 24 * 3600 * 1000);
  const result = await sql<StatsRow>`
    select
      count(*)::int as users_total,
      (count(*) filter (where created_at > ${since}))::int as users_last_24h,
      (count(*) filter (where blocked_at is not null))::int as users_blocked,
      count(invited_by)::int as invite_activations_total,
      (count(*) filter (where invite_activated_at > ${since}))::int as invite_activations_last_24h,
      (select count(*)::int from sessions s where s.revoked_at is null and s.expires_at > ${now}) as active_sessions
    from users`.execute(db);
  const row = result.rows[0];
  if (!row) throw new Error('stats query returned no row');
  return row;
}

export async function topInviters(db: Kysely<Database>, limit: number) {
  return db
    .selectFrom('users')
    .select(['phone_number', 'invite_code', 'invited_count'])
    .where('invited_count', '>', 0)
    .orderBy('invited_count', 'desc')
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit)
    .execute();
}

/**
 * One page of audit events, newest first, keyset-paginated on the identity id (indexes
 * audit_events_{phone,type}_idx cover the filters). A phone filter also matches events recorded
 * with only the user id (e.g. refresh_reused).
 */
export async function listAuditEvents(
  db: Kysely<Database>,
  opts: { limit: number; beforeId: string | null; phone: string | null; type: string | null },
) {
  let query = db.selectFrom('audit_events').selectAll();
  if (opts.phone) {
    const phone = opts.phone;
    query = query.where((eb) =>
      eb.or([
        eb('phone_number', '=', phone),
        eb('user_id', 'in', eb.selectFrom('users').select('id').where('phone_number', '=', phone)),
      ]),
    );
  }
  if (opts.type) query = query.where('type', '=', opts.type);
  if (opts.beforeId) query = query.where('id', '<', opts.beforeId);
  return query.orderBy('id', 'desc').limit(opts.limit + 1).execute();
}

import { Kysely, PostgresDialect, sql, type RawBuilder } from 'kysely';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Database } from '../../apps/api/src/db/types.js';

/**
 * Two ways of seeding:
 * - The invite tree the endpoints are measured on (`--users`, 10 000 by default) goes through the
 *   API's own repositories (seedUsers in seed-users.ts): the first-login statement, a
 *   refresh-token rotation and the activation transaction, the same statements the API runs, many
 *   at a time. Its rows are what using the service writes, by construction.
 * - The scale runs' bulk (the users table grown to a million, inviters with 100 000 invitees)
 *   uses set-based SQL (`insert … select from generate_series`): a million users is one
 *   statement, not a million round trips. Every row is a function of its row number `n`, so runs
 *   are reproducible:
 *   id            00000000-0000-4000-8000-<n in hex>
 *   phone_number  +7900<n, 7 digits>           (valid Russian mobile numbers)
 *   invite_code   base-31 digits of (n · 1 000 003) mod 31⁶ in the invite alphabet — a bijection
 *                 on 0…31⁶−1 (1 000 003 is coprime to 31), so codes are unique and pass the
 *                 users_invite_code_format check
 *   invited_by    user ⌊n/10⌋ for n ≥ 10 (a tree: every user up to N/10 has 10 invitees)
 *   Scale inviters and their invitees use their own ranges of n (see SCALE_*).
 * Both give user n the phone phoneOf(n) and, for n ≥ 10, the inviter ⌊n/10⌋.
 */

const ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
const CODE_SPACE = 31 ** 6;

export const phoneOf = (n: number) => `+7900${String(n).padStart(7, '0')}`;
/** Phones for first logins during the run: a range no seeded user has. */
export const freshPhoneOf = (n: number) => `+7901${String(n).padStart(7, '0')}`;

export const SCALE_INVITERS = [
  { invitees: 0, n: 9_000_001, firstInvitee: 0 },
  { invitees: 1_000, n: 9_000_002, firstInvitee: 8_000_001 },
  { invitees: 100_000, n: 9_000_003, firstInvitee: 8_100_001 },
] as const;

/** phoneOf in SQL. */
function phoneSql(n: RawBuilder<unknown>) {
  return sql<string>`'+7900' || lpad((${n})::text, 7, '0')`;
}

function idSql(n: RawBuilder<unknown>) {
  return sql<string>`('00000000-0000-4000-8000-' || lpad(to_hex(${n}), 12, '0'))::uuid`;
}

/**
 * The row's code, or — when a user created through the API during the run drew that code at
 * random — the code of n + 400 000 000, which no seeded row uses (the map is a bijection).
 */
function freeCodeSql(n: RawBuilder<unknown>) {
  return sql<string>`(case when exists (select 1 from users c where c.invite_code = ${codeSql(n)})
    then ${codeSql(sql`(${n})::bigint + 400000000`)} else ${codeSql(n)} end)`;
}

function codeSql(n: RawBuilder<unknown>) {
  const x = sql`((${n})::bigint * 1000003 % ${sql.lit(CODE_SPACE)})`;
  const digits = [0, 1, 2, 3, 4, 5].map(
    (k) => sql`substr(${sql.lit(ALPHABET)}, ((${x} / ${sql.lit(31 ** k)}) % 31)::int + 1, 1)`,
  );
  return sql<string>`(${sql.join(digits, sql` || `)})`;
}

export function adminDb(url: string): pg.Client {
  return new pg.Client({ connectionString: url, application_name: 'phone-auth-bench' });
}

export async function createDatabase(adminUrl: string, name: string): Promise<void> {
  const c = adminDb(adminUrl);
  await c.connect();
  try {
    await c.query(`create database "${name}"`);
  } finally {
    await c.end();
  }
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const c = adminDb(adminUrl);
  await c.connect();
  try {
    await c.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await c.end();
  }
}

/** The bench's own connections: enough for seedUsers' concurrent statements. */
export function openDb(url: string, max = 16): Kysely<Database> {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'phone-auth-bench' });
  // An idle connection ended by the server (the run's database dropped WITH (FORCE) while the
  // pool winds down) is an 'error' event on the pool; unhandled, it would end the process.
  pool.on('error', () => undefined);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/**
 * Grows the tree with users n = from…to in one set-based statement (the scale run's million).
 * An inviter ⌊n/10⌋ below `from` is an existing user, found by phone (seedUsers' ids are the
 * database's); one at or above it is inserted by the same statement, with the id idSql gives it —
 * foreign keys are checked at the end of the statement, so a row may reference one inserted
 * beside it. An existing inviter that is missing falls back to that id too, which no row has:
 * the statement then fails on the foreign key rather than grow users without an inviter.
 * `invited_count` is what the tree gives each new user; recountInvitees fixes the existing
 * inviters.
 */
export async function growTree(db: Kysely<Database>, from: number, to: number, total: number): Promise<void> {
  const n = sql`g.n`;
  await db
    .insertInto('users')
    .columns(['id', 'phone_number', 'invite_code', 'invited_by', 'invite_activated_at', 'invited_count', 'created_at'])
    .expression(
      sql`select ${idSql(n)}, ${phoneSql(n)}, ${freeCodeSql(n)},
            case when g.n / 10 >= ${from}::int then ${idSql(sql`g.n / 10`)}
                 when g.n >= 10 then coalesce((select p.id from users p where p.phone_number = ${phoneSql(sql`g.n / 10`)}),
                                              ${idSql(sql`g.n / 10`)}) end,
            case when g.n >= 10 then timestamptz '2026-01-01 00:00:00+00' + g.n * interval '1 second' end,
            greatest(0, least(g.n * 10 + 9, ${total}) - greatest(g.n * 10, 10) + 1),
            timestamptz '2026-01-01 00:00:00+00' + g.n * interval '1 second'
          from generate_series(${from}::int, ${to}::int) as g(n)`,
    )
    .execute();
}

/** The scale inviters (0, 1 000 and 100 000 invitees) and their invitees (leaf users). */
export async function seedScaleInviters(db: Kysely<Database>): Promise<void> {
  for (const inviter of SCALE_INVITERS) {
    await db
      .insertInto('users')
      .values({
        id: idSql(sql.lit(inviter.n)),
        phone_number: phoneOf(inviter.n),
        invite_code: freeCodeSql(sql.lit(inviter.n)),
        invited_count: inviter.invitees,
        created_at: new Date('2026-01-01T00:00:00Z'),
      })
      .execute();
    if (inviter.invitees === 0) continue;
    const n = sql`g.n`;
    await db
      .insertInto('users')
      .columns(['id', 'phone_number', 'invite_code', 'invited_by', 'invite_activated_at', 'created_at'])
      .expression(
        sql`select ${idSql(n)}, ${phoneSql(n)}, ${freeCodeSql(n)}, ${idSql(sql.lit(inviter.n))},
              timestamptz '2026-02-01 00:00:00+00' + g.n * interval '1 second', timestamptz '2026-01-01 00:00:00+00'
            from generate_series(${inviter.firstInvitee}::int, ${inviter.firstInvitee + inviter.invitees - 1}::int) as g(n)`,
      )
      .execute();
  }
}

/** After growing the tree: users whose invitees arrived later get their count fixed. */
export async function recountInvitees(db: Kysely<Database>, fromInviter: number, toInviter: number, total: number): Promise<void> {
  await sql`update users set invited_count = greatest(0, least(n * 10 + 9, ${total}) - greatest(n * 10, 10) + 1)
            from (select generate_series(${fromInviter}::int, ${toInviter}::int) as n) g
            where users.phone_number = ${phoneSql(sql`g.n`)}`.execute(db);
}

export async function analyze(db: Kysely<Database>): Promise<void> {
  await sql`analyze`.execute(db);
}

/** After a bulk insert: vacuum analyze the users table and write its pages out (checkpoint). */
export async function settle(db: Kysely<Database>): Promise<void> {
  await sql`vacuum analyze users`.execute(db);
  await sql`checkpoint`.execute(db);
}

export async function countUsers(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Base64url cursor of GET /profile/invited-users pointing after the given invitee. */
export function cursorAfter(n: number): string {
  const id = `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
  return Buffer.from(`u:${id}`).toString('base64url');
}

/** Deletes the run's keys (everything under its own prefix) and says how many there were. */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = nextCursor;
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

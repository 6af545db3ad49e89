import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect, type RawBuilder } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../src/db/migrator.js';
import type { Database } from '../src/db/types.js';
import { inviteePageStatement, profileStatement } from '../src/modules/users/users.repository.js';

/**
 * The API prepares every statement (DATABASE_PREPARED_STATEMENTS), and Postgres soon runs a
 * prepared statement on its generic plan — one made without the parameters' values, from the
 * table statistics alone. These tests look at the generic plans of the profile reads, on tables
 * shaped like a service in use (one session per user, ten invitees per inviter) plus one user
 * with many sessions and one inviter with many invitees, and check that each lookup goes through
 * the index that fits it. Real Postgres only (plans).
 */
const databaseUrl = process.env.TEST_DATABASE_URL;

describe.runIf(databaseUrl)('generic plans of the profile reads on postgres', () => {
  const schema = `t_plan_${randomBytes(6).toString('hex')}`;
  let pool: pg.Pool;
  let db: Kysely<Database>;
  const id = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
  const sid = (n: number) => `00000000-0000-4000-9000-${n.toString(16).padStart(12, '0')}`;
  const BUSY = 1; // a user with 300 sessions and 2 000 invitees
  const USERS = 5000;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: databaseUrl, options: `-c search_path=${schema}`, max: 2 });
    await pool.query(`create schema "${schema}"`);
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    await migrateToLatest(db, schema);
    const uid = (n: string) => `('00000000-0000-4000-8000-' || lpad(to_hex(${n}), 12, '0'))::uuid`;
    // Invite codes: the row number in hex, with 0 and 1 (not in the invite alphabet) mapped to X and Y.
    await pool.query(`
      insert into users (id, phone_number, invite_code, invited_by, invite_activated_at, created_at)
      select ${uid('n')}, '+7950' || lpad(n::text, 7, '0'), translate(upper(lpad(to_hex(n), 6, '0')), '01', 'XY'),
        case when n > 2000 + ${BUSY} then ${uid('(n - 2000) / 10 + 2')} when n > ${BUSY} then ${uid(String(BUSY))} end,
        case when n > ${BUSY} then timestamptz '2026-01-01' + n * interval '1 second' end,
        timestamptz '2026-01-01'
      from generate_series(1, ${USERS}) n`);
    await pool.query(`
      insert into sessions (id, user_id, created_at, expires_at)
      select ('00000000-0000-4000-9000-' || lpad(to_hex(n), 12, '0'))::uuid, ${uid(`case when n > ${USERS} then ${BUSY} else n end`)},
        now(), now() + interval '30 days'
      from generate_series(1, ${USERS + 300}) n`);
    // Vacuumed as well: with the visibility map set, index-only scans look cheap to the planner.
    await pool.query('vacuum analyze users');
    await pool.query('vacuum analyze sessions');
  });
  afterAll(async () => {
    await pool?.query(`drop schema if exists "${schema}" cascade`);
    await db?.destroy();
  });

  /** The generic plan of `statement` (EXPLAIN of a prepared statement with plan_cache_mode forced). */
  async function genericPlan(statement: RawBuilder<unknown>): Promise<string> {
    const { sql, parameters } = statement.compile(db);
    const literal = (v: unknown) => (typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`);
    const client = await pool.connect();
    try {
      await client.query('set plan_cache_mode = force_generic_plan');
      await client.query(`prepare s as ${sql}`);
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(`explain (costs off) execute s(${parameters.map(literal).join(', ')})`);
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    } finally {
      await client.query('deallocate all');
      await client.query('reset plan_cache_mode');
      client.release();
    }
  }

  it("checks the caller's session by its primary key, however many sessions the user has", async () => {
    const plan = await genericPlan(profileStatement({ userId: id(BUSY), sessionId: sid(USERS + 7) }, 100));
    expect(plan).toContain('sessions_pkey');
    expect(plan).not.toContain('sessions_user_id_idx');
  });

  it('finds the cursor of an invitee page by its primary key, not by scanning the inviter\'s invitees', async () => {
    const plan = await genericPlan(inviteePageStatement({ userId: id(BUSY), sessionId: sid(BUSY) }, { limit: 100, afterId: id(1000) }));
    // The cursor row: one primary-key lookup; the page itself: the keyset index.
    expect(plan).toMatch(/Index Scan using users_pkey on users c\b/);
    expect(plan).toMatch(/using users_invited_by_activation_idx on users v\b/);
    expect(plan).toContain('sessions_pkey');
  });
});

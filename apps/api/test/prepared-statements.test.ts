import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresRedis, type Backend } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';
import { preparingPool } from '../src/db/database.js';

/**
 * DATABASE_PREPARED_STATEMENTS (default true): on Postgres every statement runs as a named
 * prepared statement, parsed and planned once per connection (bench: README "Performance").
 */
describe.runIf(postgresRedis)('prepared statements on postgres+redis', () => {
  const backend = postgresRedis as Backend;

  /** Names of the statements prepared on one pooled connection after running `work` on it twice. */
  async function preparedAfter(t: TestApp, work: string): Promise<{ names: string[]; texts: string[] }> {
    return t.deps.database.db.connection().execute(async (conn) => {
      for (let i = 0; i < 2; i++) await sql.raw(work).execute(conn);
      const rows = await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(conn);
      return { names: rows.rows.map((r) => r.name), texts: rows.rows.map((r) => r.statement) };
    });
  }

  describe('on (the default)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend, { env: { DATABASE_POOL_SIZE: '1' } });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('prepares each statement once per connection and reuses it, and the API answers as before', async () => {
      const { access_token } = await t.login('+79123450701');
      for (let i = 0; i < 3; i++) {
        const res = await t.request('GET', '/profile/', { token: access_token });
        expect(res.status).toBe(200);
        expect(res.body.phone_number).toBe('+79123450701');
      }
      const { names, texts } = await preparedAfter(t, 'select 41 + 1');
      // One connection in the pool: it ran the login, the profile reads and the probe.
      expect(texts.filter((x) => x === 'select 41 + 1')).toHaveLength(1);
      expect(texts.some((x) => x.includes('from users u'))).toBe(true);
      expect(new Set(names).size).toBe(names.length);
      expect(names.every((n) => n.startsWith('pa_'))).toBe(true);
    });
  });

  describe('off (DATABASE_PREPARED_STATEMENTS=false, for PgBouncer in transaction mode)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend, { env: { DATABASE_POOL_SIZE: '1', DATABASE_PREPARED_STATEMENTS: 'false' } });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('prepares nothing', async () => {
      const { access_token } = await t.login('+79123450702');
      expect((await t.request('GET', '/profile/', { token: access_token })).status).toBe(200);
      expect((await preparedAfter(t, 'select 41 + 1')).names).toEqual([]);
    });
  });

  it('hands Kysely the same client object for a pooled connection every time it is checked out', async () => {
    // Kysely remembers a connection object per client it is given: a new one per checkout would
    // be a new object (and a new entry in Kysely's map) for every statement.
    const pool = new pg.Pool({ connectionString: process.env.TEST_DATABASE_URL, max: 2 });
    const wrapped = preparingPool(pool);
    const out = new Set<{ release(): void }>();
    const checkout = async () => {
      const c = await wrapped.connect();
      out.add(c);
      return c;
    };
    const checkin = (c: { release(): void }) => {
      out.delete(c);
      c.release();
    };
    try {
      const a = await checkout();
      const b = await checkout();
      expect(a).not.toBe(b);
      checkin(a);
      checkin(b);
      const again = [await checkout(), await checkout()];
      expect(again).toContain(a);
      expect(again).toContain(b);
      const { rows } = await again[0]!.query('select $1::int + 1 as n', [41]);
      expect(rows).toEqual([{ n: 42 }]);
    } finally {
      for (const c of out) c.release();
      await pool.end();
    }
  });
});

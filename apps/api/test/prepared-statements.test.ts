import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresRedis, type Backend } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';

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
});

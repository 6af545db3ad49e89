import { describe, expect, it } from 'vitest';
import { postgresRedis } from './support/backends.js';
import { startApp } from './support/app.js';

/**
 * Two deployments (or test files) in two schemas of one Postgres database (DATABASE_SCHEMA): the
 * second must migrate its own schema even though the first already has Kysely's migration tables.
 * Only meaningful on real Postgres; the embedded backend has one database per process.
 */
describe.runIf(postgresRedis)('DATABASE_SCHEMA on postgres+redis', () => {
  it('migrates and serves a second schema while another schema of the database is in use', async () => {
    const first = await startApp(postgresRedis!);
    try {
      const second = await startApp(postgresRedis!);
      try {
        const a = await first.login('+79123520001');
        const b = await second.login('+79123520001');
        // Same phone, two independent user tables.
        expect(a.user_created).toBe(true);
        expect(b.user_created).toBe(true);
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
  });
});

import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createDatabase } from '../src/db/database.js';
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

  it('replicas starting at once in a new schema all come up (found by replicas.test.ts)', async () => {
    // CREATE SCHEMA IF NOT EXISTS is not safe against itself: two at once can both see no schema,
    // and the second fails on pg_namespace's unique index — a replica that then refuses to start.
    const provisioned = await postgresRedis!.provision();
    try {
      const config = loadConfig({ ...provisioned.env, DATABASE_POOL_SIZE: '2' });
      for (let round = 0; round < 5; round++) {
        const schema = `${provisioned.env.DATABASE_SCHEMA}_${round}`;
        const opened = await Promise.allSettled(
          Array.from({ length: 6 }, () => createDatabase({ ...config, database: { ...config.database, schema } }, pino({ level: 'silent' }))),
        );
        await Promise.all(opened.map((o) => (o.status === 'fulfilled' ? o.value.close() : undefined)));
        const dropper = await createDatabase(config, pino({ level: 'silent' }));
        await dropper.db.schema.dropSchema(schema).ifExists().cascade().execute();
        await dropper.close();
        expect(opened.map((o) => (o.status === 'rejected' ? String(o.reason) : 'ok'))).toEqual(Array(6).fill('ok'));
      }
    } finally {
      await provisioned.cleanup();
    }
  });
});

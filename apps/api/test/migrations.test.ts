import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigrator, migrateToLatest } from '../src/db/migrator.js';
import type { Database } from '../src/db/types.js';

/**
 * Migrations that lock a table in use. Real Postgres only: locks and their timeouts are what is
 * tested, and the embedded database has one connection.
 */
const databaseUrl = process.env.TEST_DATABASE_URL;

describe.runIf(databaseUrl)('migrations on postgres', () => {
  const schema = `t_mig_${randomBytes(6).toString('hex')}`;
  const options = `-c search_path=${schema}`;
  let pool: pg.Pool;
  let db: Kysely<Database>;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: databaseUrl, options, max: 2 });
    await pool.query(`create schema "${schema}"`);
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  });
  afterAll(async () => {
    await pool?.query(`drop schema if exists "${schema}" cascade`);
    await db?.destroy();
  });

  async function auditForeignKeys(): Promise<string[]> {
    const { rows } = await pool.query<{ conname: string }>(
      `select conname from pg_constraint where conrelid = '"${schema}".audit_events'::regclass and contype = 'f'`,
    );
    return rows.map((r) => r.conname);
  }

  async function auditIndexes(): Promise<string[]> {
    const { rows } = await pool.query<{ indexname: string }>(
      `select indexname from pg_indexes where schemaname = $1 and tablename = 'audit_events' order by 1`,
      [schema],
    );
    return rows.map((r) => r.indexname);
  }

  it('gives up after lock_timeout instead of queueing every query on users behind a long transaction', async () => {
    const migrator = createMigrator(db, schema);
    expect((await migrator.migrateTo('20261125090000_audit_events')).error).toBeUndefined();
    expect(await auditForeignKeys()).toEqual(['audit_events_user_id_fkey']);

    // A long reader (a report, a pg_dump) holds a lock on users and audit_events.
    const reader = new pg.Client({ connectionString: databaseUrl, options });
    await reader.connect();
    try {
      await reader.query('begin');
      await reader.query('select count(*) from users, audit_events');
      const started = Date.now();
      await expect(migrateToLatest(db, schema)).rejects.toThrow(/lock timeout/);
      expect(Date.now() - started).toBeLessThan(15_000);
      // Nothing of the failed run stayed behind: the migrations ran in one transaction.
      expect(await auditForeignKeys()).toEqual(['audit_events_user_id_fkey']);
      expect(await auditIndexes()).toContain('audit_events_created_at_idx');
    } finally {
      await reader.query('rollback');
      await reader.end();
    }

    // The next start, with the reader gone, applies them.
    expect(await migrateToLatest(db, schema)).toEqual([
      '20261125130000_drop_audit_created_at_idx',
      '20261125131000_audit_events_no_user_fk',
      '20261201120000_sessions_revoked_at_idx',
    ]);
    expect(await auditForeignKeys()).toEqual([]);
    expect(await auditIndexes()).not.toContain('audit_events_created_at_idx');
  }, 30_000);

  it('rolls back to the audit table as it was: foreign key and time index restored', async () => {
    expect((await createMigrator(db, schema).migrateTo('20261125090000_audit_events')).error).toBeUndefined();
    expect(await auditForeignKeys()).toEqual(['audit_events_user_id_fkey']);
    expect(await auditIndexes()).toContain('audit_events_created_at_idx');
    expect(await migrateToLatest(db, schema)).toHaveLength(3);
  });
});

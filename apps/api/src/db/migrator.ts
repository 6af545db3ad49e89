import { Migrator, type Kysely, type MigrationResultSet } from 'kysely';
import { migrations } from './migrations/index.js';
import type { Database } from './types.js';

/**
 * `schema` (DATABASE_SCHEMA) must be given whenever the database may hold other schemas: without
 * it Kysely decides whether its bookkeeping tables exist by looking for them in *any* schema, so a
 * `kysely_migration_lock` of another schema (another app, another replica's test schema) makes it
 * skip creating its own and fail with 'relation "kysely_migration_lock" does not exist' (seen when
 * test files migrated their own schemas in parallel).
 */
export function createMigrator(db: Kysely<Database>, schema?: string): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
}

/** Applies every pending migration; throws with the failing migration's name on error. */
export async function migrateToLatest(db: Kysely<Database>, schema?: string): Promise<string[]> {
  const { error, results }: MigrationResultSet = await createMigrator(db, schema).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Migration ${failed?.migrationName ?? '(unknown)'} failed: ${reason}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

import { Migrator, type Kysely, type MigrationResultSet } from 'kysely';
import { migrations } from './migrations/index.js';
import type { Database } from './types.js';

/**
 * `schema` must be the schema the connection works in (DATABASE_SCHEMA). Without it Kysely's
 * Migrator looks for its kysely_migration(_lock) tables in *every* schema, so another schema in
 * the same database that has them (another test file, another app) makes it skip creating its own
 * and fail with 'relation "kysely_migration_lock" does not exist'.
 */
export function createMigrator(db: Kysely<Database>, schema = 'public'): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableSchema: schema,
  });
}

/** Applies every pending migration; throws with the failing migration's name on error. */
export async function migrateToLatest(db: Kysely<Database>, schema = 'public'): Promise<string[]> {
  const { error, results }: MigrationResultSet = await createMigrator(db, schema).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Migration ${failed?.migrationName ?? '(unknown)'} failed: ${reason}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

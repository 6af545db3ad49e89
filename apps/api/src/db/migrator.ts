import { Migrator, type Kysely, type MigrationResultSet } from 'kysely';
import { migrations } from './migrations/index.js';
import type { Database } from './types.js';

/**
 * `schema` must name the schema the connection works in: without it Kysely decides whether its
 * bookkeeping tables exist by looking for them in *any* schema, so a fresh schema next to another
 * migrated one (parallel test schemas on one server) skipped creating them and failed with
 * `relation "kysely_migration_lock" does not exist`.
 */
export function createMigrator(db: Kysely<Database>, schema = 'public'): Migrator {
  return new Migrator({
    db,
    migrationTableSchema: schema,
    provider: { getMigrations: async () => migrations },
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

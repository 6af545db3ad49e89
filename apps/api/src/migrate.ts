import { ConfigError, loadConfig } from './config.js';
import { createDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrator.js';
import { createLogger } from './deps.js';

/** `pnpm migrate`: applies pending migrations to the configured database and exits. */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config);
  const database = await createDatabase(config, log);
  try {
    const applied = await migrateToLatest(database.db, config.database.schema);
    log.info({ database: database.description, applied }, applied.length ? 'migrations applied' : 'database is up to date');
  } finally {
    await database.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

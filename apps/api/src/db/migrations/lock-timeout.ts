import { sql, type Kysely } from 'kysely';

/**
 * For migrations that take an ACCESS EXCLUSIVE lock on a table in use (dropping an index, or a
 * foreign key, whose triggers live on the referenced table too): give up after a few seconds
 * instead of waiting behind a long transaction. While such a lock request waits, every later query
 * on the table queues behind it — logins and profile reads would stall for as long as, say, a
 * pg_dump runs. Failing makes MIGRATE_ON_START exit; the next start (or `pnpm migrate`) retries,
 * and replicas already running keep serving. Scoped to the migrations' transaction.
 */
export async function failFastOnLocks(db: Kysely<any>): Promise<void> {
  await sql`set local lock_timeout = '5s'`.execute(db);
}

import { sql, type Kysely } from 'kysely';
import { failFastOnLocks } from './lock-timeout.js';

/**
 * The recently revoked sessions, found without a scan: on start and after every Redis reconnect
 * the API puts the sessions revoked within an access token's lifetime back on the denylist
 * (restoreDenylist), in case the denylist was lost with the process or with a Redis that keeps
 * nothing on disk. Partial: only revoked sessions have an entry, so logins, which insert live
 * sessions, write nothing to it.
 *
 * Building it reads the whole table and blocks writes to `sessions` (logins, refreshes) while it
 * runs; CONCURRENTLY cannot run inside the migrations' transaction. On a deployment whose sessions
 * table is already large, create it beforehand with
 *   CREATE INDEX CONCURRENTLY IF NOT EXISTS sessions_revoked_at_idx ON sessions (revoked_at)
 *   WHERE revoked_at IS NOT NULL;
 * and this migration finds it there (README: Running against Postgres and Redis). The pool's
 * statement_timeout is lifted for the build: killed halfway, it would block writes again on every
 * start.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await failFastOnLocks(db);
  await sql`set local statement_timeout = 0`.execute(db);
  await db.schema
    .createIndex('sessions_revoked_at_idx')
    .ifNotExists()
    .on('sessions')
    .column('revoked_at')
    .where('revoked_at', 'is not', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('sessions_revoked_at_idx').ifExists().execute();
}

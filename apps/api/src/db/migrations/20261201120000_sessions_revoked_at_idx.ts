import type { Kysely } from 'kysely';
import { failFastOnLocks } from './lock-timeout.js';

/**
 * The recently revoked sessions, found without a scan: on start and after every Redis reconnect
 * the API puts the sessions revoked within an access token's lifetime back on the denylist
 * (restoreDenylist), in case the denylist was lost with the process or with a Redis that keeps
 * nothing on disk. Partial: only revoked sessions have an entry, so logins, which insert live
 * sessions, write nothing to it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await failFastOnLocks(db);
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

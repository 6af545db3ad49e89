import type { Kysely } from 'kysely';
import { failFastOnLocks } from './lock-timeout.js';

/**
 * No query reads audit_events by created_at: the admin log pages by id (newest first) and filters
 * by phone, user or type, each with its own (…, id) index. The identity id grows with created_at,
 * so a future time-based retention can delete by id range. Every login and refresh wrote this
 * index for nothing (bench: Performance).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await failFastOnLocks(db);
  await db.schema.dropIndex('audit_events_created_at_idx').ifExists().execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('audit_events_created_at_idx').ifNotExists().on('audit_events').column('created_at').execute();
}

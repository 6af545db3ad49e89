import { sql, type Kysely } from 'kysely';
import { failFastOnLocks } from './lock-timeout.js';

/**
 * audit_events.user_id no longer references users. An audit trail records what happened, to whom,
 * and should outlive and not constrain the rows it mentions: with the foreign key, deleting a user
 * rewrote their history (ON DELETE SET NULL), and every audited login, refresh and activation ran a
 * referential check that also row-locked the user (FOR KEY SHARE, a write to the user's row).
 * The admin log's phone filter finds events by their own phone_number (codes, logins, logouts) or
 * through the user's current row (refreshes, invites): a deleted user's events of the second kind
 * are found by user id only — before, they lost even that.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await failFastOnLocks(db);
  await sql`alter table audit_events drop constraint if exists audit_events_user_id_fkey`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // Events of users deleted meanwhile lose their user id, as they did under the old key.
  await sql`update audit_events a set user_id = null where user_id is not null and not exists (select 1 from users u where u.id = a.user_id)`.execute(db);
  await sql`alter table audit_events add constraint audit_events_user_id_fkey foreign key (user_id) references users (id) on delete set null`.execute(db);
}

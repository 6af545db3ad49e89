import type { Migration } from 'kysely';
import * as initial from './20261125080000_initial.js';
import * as auditEvents from './20261125090000_audit_events.js';
import * as dropAuditCreatedAtIdx from './20261125130000_drop_audit_created_at_idx.js';
import * as auditEventsNoUserFk from './20261125131000_audit_events_no_user_fk.js';
import * as sessionsRevokedAtIdx from './20261201120000_sessions_revoked_at_idx.js';

/**
 * Every migration, by its timestamped name. Listed statically (rather than read from the
 * folder) so the same list works from TypeScript sources and from the compiled build.
 */
export const migrations: Record<string, Migration> = {
  '20261125080000_initial': initial,
  '20261125090000_audit_events': auditEvents,
  '20261125130000_drop_audit_created_at_idx': dropAuditCreatedAtIdx,
  '20261125131000_audit_events_no_user_fk': auditEventsNoUserFk,
  '20261201120000_sessions_revoked_at_idx': sessionsRevokedAtIdx,
};

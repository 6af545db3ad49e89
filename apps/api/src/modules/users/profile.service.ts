import type { InvitedUsersPage, Profile } from '@phone-auth/contract';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.js';
import { AppError } from '../../lib/errors.js';
import { listInvitees, loadProfile } from './users.repository.js';

export const PROFILE_INVITEES_LIMIT = 100;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Cursors are opaque to clients: base64url of the last invitee's id. */
export function encodeCursor(id: string): string {
  return Buffer.from(`u:${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const id = text.startsWith('u:') ? text.slice(2) : '';
  if (!UUID.test(id)) {
    throw new AppError('VALIDATION_FAILED', 'The cursor is not valid.', {
      fields: [{ path: 'cursor', message: 'is not a cursor returned by this API' }],
    });
  }
  return id;
}

/** The authenticated caller: the access token's user and session. */
export interface Caller {
  userId: string;
  sessionId: string;
}

/**
 * The read endpoints check that the caller's session is live in their own statement (see
 * users.repository), so the auth hook skips its denylist lookup for them (SESSION_CHECKED_ROUTES).
 */
export interface ProfileService {
  getProfile(caller: Caller): Promise<Profile>;
  invitedUsers(caller: Caller, query: { limit: number; cursor?: string | undefined }): Promise<InvitedUsersPage>;
}

export function createProfileService(deps: { db: Kysely<Database> }): ProfileService {
  const { db } = deps;
  return {
    async getProfile(caller) {
      const row = await loadProfile(db, caller, PROFILE_INVITEES_LIMIT);
      // The token outlived its user (deleted by an operator): treat as not authenticated.
      if (!row) throw new AppError('UNAUTHORIZED');
      if (!row.session_active) throw new AppError('SESSION_REVOKED');
      if (row.blocked) throw new AppError('USER_BLOCKED');
      const more = row.invitees.length > PROFILE_INVITEES_LIMIT;
      return {
        phone_number: row.phone_number,
        invite_code: row.invite_code,
        other_profile_invite_code: row.other_profile_invite_code,
        invited_users: more ? row.invitees.slice(0, PROFILE_INVITEES_LIMIT) : row.invitees,
        invited_users_count: row.invited_count,
        invited_users_next_cursor: more && row.cursor_id ? encodeCursor(row.cursor_id) : null,
      };
    },

    async invitedUsers(caller, query) {
      const afterId = query.cursor ? decodeCursor(query.cursor) : null;
      const page = await listInvitees(db, caller, { limit: query.limit, afterId });
      if (!page.session_active) throw new AppError('SESSION_REVOKED');
      const more = page.items.length > query.limit;
      return {
        items: more ? page.items.slice(0, query.limit) : page.items,
        next_cursor: more && page.cursor_id ? encodeCursor(page.cursor_id) : null,
      };
    },
  };
}

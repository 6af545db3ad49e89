import { initContract } from '@ts-rest/core';
import { adminRoute, commonResponses } from './common-responses.js';
import { ErrorBody } from './errors.js';
import {
  AdminAuditPage,
  AdminAuditQuery,
  AdminBlockResponse,
  AdminPhoneParams,
  AdminRevokeSessionsResponse,
  AdminStats,
  AdminUnblockResponse,
  AdminUserDetail,
  AdminUsersPage,
  AdminUsersQuery,
} from './schemas/admin.js';

const c = initContract();

/**
 * The operators' API (used by the CLI). `Authorization: Bearer <ADMIN_API_TOKEN>`; when the
 * server has no admin token configured, every route answers 404 NOT_FOUND as if it did not exist.
 */
export const adminContract = c.router(
  {
    listUsers: {
      method: 'GET',
      path: '/admin/users',
      summary: 'Users, newest first (keyset pagination), optionally by phone prefix',
      query: AdminUsersQuery,
      responses: { 200: AdminUsersPage, 401: ErrorBody, 404: ErrorBody },
      metadata: adminRoute,
    },
    getUser: {
      method: 'GET',
      path: '/admin/users/:phone',
      summary: 'One user, with their sessions and inviter',
      pathParams: AdminPhoneParams,
      responses: { 200: AdminUserDetail, 401: ErrorBody, 404: ErrorBody, 422: ErrorBody },
      metadata: adminRoute,
    },
    blockUser: {
      method: 'POST',
      path: '/admin/users/:phone/block',
      summary: "Block a user and end all of the user's sessions",
      pathParams: AdminPhoneParams,
      body: c.noBody(),
      responses: { 200: AdminBlockResponse, 401: ErrorBody, 404: ErrorBody, 422: ErrorBody },
      metadata: adminRoute,
    },
    unblockUser: {
      method: 'POST',
      path: '/admin/users/:phone/unblock',
      summary: 'Unblock a user (they log in again with a new code)',
      pathParams: AdminPhoneParams,
      body: c.noBody(),
      responses: { 200: AdminUnblockResponse, 401: ErrorBody, 404: ErrorBody, 422: ErrorBody },
      metadata: adminRoute,
    },
    revokeSessions: {
      method: 'POST',
      path: '/admin/users/:phone/revoke-sessions',
      summary: "End all of a user's sessions; their access tokens are refused at once",
      pathParams: AdminPhoneParams,
      body: c.noBody(),
      responses: { 200: AdminRevokeSessionsResponse, 401: ErrorBody, 404: ErrorBody, 422: ErrorBody },
      metadata: adminRoute,
    },
    stats: {
      method: 'GET',
      path: '/admin/stats',
      summary: 'Users total and in the last 24 h, invite activations, top inviters',
      responses: { 200: AdminStats, 401: ErrorBody, 404: ErrorBody },
      metadata: adminRoute,
    },
    audit: {
      method: 'GET',
      path: '/admin/audit',
      summary: 'Audit events, newest first (keyset pagination), by phone and type',
      query: AdminAuditQuery,
      responses: { 200: AdminAuditPage, 401: ErrorBody, 404: ErrorBody, 422: ErrorBody },
      metadata: adminRoute,
    },
  },
  { strictStatusCodes: true, commonResponses },
);

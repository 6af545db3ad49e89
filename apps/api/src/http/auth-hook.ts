import { contract, type RouteMetadata } from '@phone-auth/contract';
import type { AppRoute } from '@ts-rest/core';
import type { FastifyRequest } from 'fastify';
import { BEARER_HEADER } from '../lib/bearer.js';
import { AppError } from '../lib/errors.js';
import { noRouteMessage } from './error-handler.js';
import type { AdminService } from '../modules/admin/admin.service.js';
import type { SessionService } from '../modules/sessions/sessions.service.js';
import type { Caller } from '../modules/users/profile.service.js';
import type { AccessClaims, TokenService } from '../modules/tokens/token.service.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Claims of the verified access token on routes whose contract metadata says `auth: 'user'`. */
    auth: AccessClaims | null;
  }
}

/** The bearer token of the request, or null when there is no well-formed Authorization header. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = BEARER_HEADER.exec(header);
  return match?.[1] ?? null;
}

/**
 * Routes whose handler checks the caller's session in its own database statement (the profile
 * reads: ProfileService). For them the hook does not look the session up on the denylist: the
 * check costs no extra round trip, and it reads the sessions table, which every revocation writes
 * before the denylist. Every other user route gets the denylist lookup. A route added here must
 * answer SESSION_REVOKED itself (tests: "revoked sessions" in sessions.test.ts).
 */
const SESSION_CHECKED_ROUTES: ReadonlySet<AppRoute> = new Set<AppRoute>([contract.profile.getProfile, contract.profile.invitedUsers]);

/**
 * onRequest hook: routes declare in the contract (`metadata.auth`) whether they need a user.
 * The token is verified (pinned algorithm, issuer, audience, expiry), then its session is checked
 * against the revocation denylist — one key lookup, no database query — unless the route checks
 * the session itself (SESSION_CHECKED_ROUTES).
 */
export function createAuthHook(deps: { tokens: TokenService; sessions: SessionService; admin: AdminService }) {
  return async function authHook(request: FastifyRequest): Promise<void> {
    const route = (request.routeOptions.config as { tsRestRoute?: AppRoute }).tsRestRoute;
    const metadata = route?.metadata as RouteMetadata | undefined;
    if (metadata?.auth === 'admin') {
      // Without ADMIN_API_TOKEN the admin API does not exist, as far as anyone can tell.
      if (!deps.admin.enabled) {
        throw new AppError('NOT_FOUND', noRouteMessage(request));
      }
      const token = bearerToken(request);
      if (!token || !deps.admin.checkToken(token)) throw new AppError('UNAUTHORIZED', 'A valid admin token is required.');
      return;
    }
    if (metadata?.auth !== 'user') return;
    const token = bearerToken(request);
    if (!token) throw new AppError('UNAUTHORIZED');
    const claims = await deps.tokens.verifyAccessToken(token);
    if (!route || !SESSION_CHECKED_ROUTES.has(route)) await deps.sessions.assertActive(claims);
    request.auth = claims;
  };
}

/** The claims of an authenticated route; the hook guarantees they are there. */
export function claimsOf(request: FastifyRequest): AccessClaims {
  if (!request.auth) throw new AppError('UNAUTHORIZED');
  return request.auth;
}

/** The caller of an authenticated route, for services that check the session themselves. */
export function callerOf(request: FastifyRequest): Caller {
  const claims = claimsOf(request);
  return { userId: claims.sub, sessionId: claims.sid };
}

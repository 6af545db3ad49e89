import { contract } from '@phone-auth/contract';
import { initServer } from '@ts-rest/fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../deps.js';
import type { RequestContext } from '../modules/otp/otp.service.js';
import { callerOf, claimsOf, createAuthHook } from './auth-hook.js';
import { sendError, zodFields } from './error-handler.js';

const s = initServer();

function context(request: FastifyRequest): RequestContext {
  const ua = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof ua === 'string' ? ua : null };
}

/** Routes: parse (ts-rest + zod) → call a service → map the result. Failures are thrown AppErrors. */
export function createRouter(services: Services) {
  return s.router(contract, {
    auth: {
      requestCode: async ({ body, request }) => ({
        status: 200,
        body: await services.otp.requestCode(body.phone_number, context(request)),
      }),
      verifyCode: async ({ body, request }) => ({
        status: 200,
        body: await services.sessions.login(body.phone_number, body.otp_code, context(request)),
      }),
      refresh: async ({ body, request }) => ({
        status: 200,
        body: await services.sessions.refresh(body.refresh_token, context(request)),
      }),
      logout: async ({ body, request }) => {
        await services.sessions.logout(claimsOf(request), body?.all === true, context(request));
        return { status: 204, body: undefined };
      },
      jwks: async ({ reply }) => {
        reply.header('cache-control', 'public, max-age=300');
        return { status: 200, body: services.tokens.jwks() };
      },
    },
    profile: {
      getProfile: async ({ request }) => ({
        status: 200,
        body: await services.profile.getProfile(callerOf(request)),
      }),
      invitedUsers: async ({ query, request }) => ({
        status: 200,
        body: await services.profile.invitedUsers(callerOf(request), query),
      }),
      activateInvite: async ({ body, request }) => ({
        status: 200,
        body: await services.invites.activate(claimsOf(request).sub, body.other_profile_invite_code, context(request)),
      }),
    },
    admin: {
      listUsers: async ({ query }) => ({ status: 200, body: await services.admin.listUsers(query) }),
      getUser: async ({ params }) => ({ status: 200, body: await services.admin.getUser(params.phone) }),
      blockUser: async ({ params, request }) => ({
        status: 200,
        body: await services.admin.block(params.phone, context(request)),
      }),
      unblockUser: async ({ params, request }) => ({
        status: 200,
        body: await services.admin.unblock(params.phone, context(request)),
      }),
      revokeSessions: async ({ params, request }) => ({
        status: 200,
        body: await services.admin.revokeSessions(params.phone, context(request)),
      }),
      stats: async () => ({ status: 200, body: await services.admin.stats() }),
      audit: async ({ query }) => ({ status: 200, body: await services.admin.audit(query) }),
    },
    ops: {
      live: async () => ({ status: 200, body: { status: 'ok', uptime_seconds: Math.round(process.uptime()) } }),
      ready: async ({ reply }) => {
        const { ready, checks, shuttingDown } = await services.health.check();
        reply.header('cache-control', 'no-store');
        if (ready) return { status: 200, body: { status: 'ok', checks } };
        const down = Object.entries(checks)
          .filter(([, check]) => check.status === 'down')
          .map(([name]) => name);
        const message = shuttingDown
          ? 'The server is shutting down.'
          : `Not ready: ${down.join(' and ')} ${down.length === 1 ? 'is' : 'are'} unreachable.`;
        return {
          status: 503,
          body: { error: { code: 'SERVICE_UNAVAILABLE', message, checks, request_id: String(reply.request.id) } },
        };
      },
    },
  });
}

/**
 * Registers the contract's routes in a child scope, so ts-rest's own error handler (which only
 * handles its validation errors and passes the rest on) sits below ours.
 */
export async function registerApiRoutes(app: FastifyInstance, services: Services): Promise<void> {
  await app.register(async (scope) => {
    scope.decorateRequest('auth', null);
    scope.addHook('onRequest', createAuthHook({ tokens: services.tokens, sessions: services.sessions, admin: services.admin }));
    await scope.register(s.plugin(createRouter(services)), {
      logInitialization: false,
      responseValidation: false,
      requestValidationErrorHandler: (err, _request, reply) => {
        const fields = [
          ...zodFields(err.pathParams, 'params'),
          ...zodFields(err.query, 'query'),
          ...zodFields(err.headers, 'headers'),
          ...zodFields(err.body, 'body'),
        ];
        sendError(reply, 'VALIDATION_FAILED', {
          message: fields.length ? `Invalid request: ${fields.map((f) => `${f.path} ${f.message}`).join('; ')}.` : undefined,
          fields,
        });
      },
    });
  });
}

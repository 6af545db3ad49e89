import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Deps } from './deps.js';
import { registerErrorHandling } from './http/error-handler.js';
import { registerOps } from './http/ops.js';
import { registerApiRoutes } from './http/router.js';

/** Bodies larger than this are refused with 413 PAYLOAD_TOO_LARGE. */
export const BODY_LIMIT_BYTES = 16 * 1024;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Builds the Fastify app from its dependencies. Never listens: server.ts does that, and tests
 * call `app.listen({ port: 0 })` or `app.inject`.
 */
export async function buildApp(deps: Deps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: deps.config.trustProxy,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Accept the caller's request id when it is well-formed, else make one; echoed in the response.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    requestTimeout: 30_000,
    // While closing, requests that still arrive on open keep-alive connections are served (with
    // `Connection: close`) rather than refused with Fastify's own non-spec 503 body; readiness
    // already answers 503 so balancers stop routing here (http/ops.ts).
    return503OnClosing: false,
  });

  // Only JSON bodies are understood; anything else is 415, not a confusing validation error.
  app.removeContentTypeParser(['text/plain']);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  registerErrorHandling(app);
  await registerOps(app, deps);
  await registerApiRoutes(app, deps.services);
  return app;
}

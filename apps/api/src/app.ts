import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorStatus, type ErrorBody, type ErrorCode } from '@phone-auth/contract';
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Deps } from './deps.js';
import { frameworkErrorHandler, registerErrorHandling } from './http/error-handler.js';
import { registerOps } from './http/ops.js';
import { registerApiRoutes } from './http/router.js';
import { requestLoggerFactory } from './lib/request-logger.js';

/** Bodies larger than this are refused with 413 PAYLOAD_TOO_LARGE. */
export const BODY_LIMIT_BYTES = 16 * 1024;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (control bytes in a header, a
 * malformed request line, headers over 16 KiB) get the same error body as every other error,
 * instead of Fastify's own `{"error":"Bad Request","statusCode":400}` (found by
 * test/hostile-input.test.ts).
 */
function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'PAYLOAD_TOO_LARGE' : 'VALIDATION_FAILED';
  const message =
    code === 'PAYLOAD_TOO_LARGE' ? 'The request headers are too large.' : 'The request is not well-formed HTTP.';
  const requestId = randomUUID();
  const body = JSON.stringify({ error: { code, message, request_id: requestId } } satisfies ErrorBody);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${errorStatus[code]} ${STATUS_CODES[errorStatus[code]] ?? ''}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/**
 * The access log: one line per request, written when it completes, with the request (method, url
 * with phones masked, client) and the outcome together — instead of Fastify's two ("incoming
 * request" and "request completed"): half the log volume. A request whose client goes away first
 * is logged as "request aborted" (the onRequest hook in buildApp), so every request that was routed
 * leaves a line; only requests in flight when the process dies leave none. reply.log carries the
 * route's log level, so probes and scrapes stay out of it.
 */
class AccessLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

const kReply = Symbol('reply');
type ResponseWithReply = ServerResponse & { [kReply]?: FastifyReply };

/** 'close' listener of every response (one shared function, no closure per request). */
function logIfAborted(this: ResponseWithReply): void {
  const reply = this[kReply];
  if (reply && !this.writableFinished) reply.log.info({ req: reply.request, responseTime: reply.elapsedTime }, 'request aborted');
}

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
    logController: new AccessLog(),
    childLoggerFactory: requestLoggerFactory,
    // While closing, requests that still arrive on open keep-alive connections are served (with
    // `Connection: close`) rather than refused with Fastify's own non-spec 503 body; readiness
    // already answers 503 so balancers stop routing here (http/ops.ts).
    return503OnClosing: false,
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler,
  });

  // Only JSON bodies are understood; anything else is 415, not a confusing validation error.
  app.removeContentTypeParser(['text/plain']);

  // Callback-style hooks here and in ops.ts: an async hook costs a promise and a microtask turn
  // on every request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    // The connection closed before the response was sent (the client gave up): no "request
    // completed" will follow, so the access log gets this line instead. (Fastify's onRequestAbort
    // fires only while the request body is still arriving.)
    (reply.raw as ResponseWithReply)[kReply] = reply;
    reply.raw.on('close', logIfAborted);
    done();
  });

  registerErrorHandling(app);
  // Web apps on other origins: CORS only for the configured origins. Tokens travel in the
  // Authorization header, never in cookies, so credentials mode is not needed.
  const origins = deps.config.corsOrigins;
  if (origins) {
    await app.register(cors, {
      origin: origins.includes('*') ? '*' : origins,
      methods: ['GET', 'POST', 'PUT'],
      allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
      exposedHeaders: ['x-request-id', 'retry-after'],
      maxAge: 600,
      credentials: false,
    });
  }
  await registerOps(app, deps);
  await registerApiRoutes(app, deps.services);
  return app;
}

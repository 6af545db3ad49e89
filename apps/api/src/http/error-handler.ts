import { errorMessage, errorStatus, type ErrorBody, type ErrorCode, type FieldError } from '@phone-auth/contract';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodError } from 'zod';
import { AppError } from '../lib/errors.js';
import { isDependencyDown } from '../lib/dependency-errors.js';

export function sendError(
  reply: FastifyReply,
  code: ErrorCode,
  opts: { message?: string; retryAfterSeconds?: number; fields?: FieldError[] } = {},
): FastifyReply {
  const body: ErrorBody = {
    error: {
      code,
      message: opts.message ?? errorMessage[code],
      ...(opts.fields ? { fields: opts.fields } : {}),
      ...(opts.retryAfterSeconds !== undefined ? { retry_after: opts.retryAfterSeconds } : {}),
      request_id: String(reply.request.id),
    },
  };
  if (opts.retryAfterSeconds !== undefined) reply.header('retry-after', String(opts.retryAfterSeconds));
  return reply.status(errorStatus[code]).send(body);
}

export function zodFields(error: ZodError | null | undefined, prefix: string): FieldError[] {
  if (!error) return [];
  return error.issues.map((issue) => ({
    path: [prefix, ...issue.path].filter((p) => p !== '').join('.'),
    message: issue.message,
  }));
}

/** Fastify's own 4xx errors (body parsing) mapped to the spec's codes. */
const FASTIFY_ERRORS: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_BAD_URL: 'NOT_FOUND',
  FST_ERR_ASYNC_CONSTRAINT: 'VALIDATION_FAILED',
};

/**
 * Fastify's `frameworkErrors` option: errors found while routing, before any hook or the error
 * handler runs (a path that is not valid percent-encoding such as `/%ff`, an over-long path
 * parameter). Without it Fastify answers these itself, in its own body format (found by
 * test/hostile-input.test.ts). A path that cannot be decoded names no resource: 404.
 */
export function frameworkErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id);
  const code = FASTIFY_ERRORS[err.code] ?? (err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'NOT_FOUND' : 'VALIDATION_FAILED');
  request.log.info({ code: err.code }, 'request rejected while routing');
  sendError(reply, code, code === 'NOT_FOUND' ? { message: 'No such route.' } : {});
}

/** The 404 message for a route that does not exist (or, to the client, seems not to). */
export function noRouteMessage(request: FastifyRequest): string {
  return `No route ${request.method} ${request.url.split('?')[0] ?? ''}.`;
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    sendError(reply, 'NOT_FOUND', { message: noRouteMessage(request) });
  });

  app.setErrorHandler((err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof AppError) {
      return sendError(reply, err.code, {
        message: err.message,
        retryAfterSeconds: err.extra.retryAfterSeconds,
        fields: err.extra.fields,
      });
    }
    const fastifyCode = 'code' in err && typeof err.code === 'string' ? FASTIFY_ERRORS[err.code] : undefined;
    if (fastifyCode) {
      const message =
        fastifyCode === 'VALIDATION_FAILED'
          ? 'The request body is not valid JSON.'
          : fastifyCode === 'PAYLOAD_TOO_LARGE'
            ? 'The request body is larger than 16 KiB.'
            : undefined;
      return sendError(reply, fastifyCode, { message });
    }
    // Any other 4xx raised by Fastify itself (malformed requests): a validation failure.
    const status = 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      request.log.info({ code: 'code' in err ? err.code : undefined }, 'request rejected by fastify');
      return sendError(reply, status === 404 ? 'NOT_FOUND' : 'VALIDATION_FAILED');
    }
    if (isDependencyDown(err)) {
      request.log.warn({ err: { message: err.message, code: 'code' in err ? err.code : undefined } }, 'dependency unavailable');
      reply.header('retry-after', '5');
      return sendError(reply, 'SERVICE_UNAVAILABLE');
    }
    request.log.error({ err }, 'unhandled error');
    return sendError(reply, 'INTERNAL');
  });
}

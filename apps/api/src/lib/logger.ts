import type { FastifyBaseLogger } from 'fastify';

/** The logger every module takes: Fastify's pino logger or a child of it. */
export type Logger = Pick<FastifyBaseLogger, 'info' | 'warn' | 'error' | 'debug' | 'child'>;

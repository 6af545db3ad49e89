import { Writable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../deps.js';
import { requestLoggerFactory } from './request-logger.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      cb();
    },
  });
  const root = createLogger({ logLevel: level as never }, stream) as unknown as FastifyBaseLogger;
  const child = vi.spyOn(root, 'child');
  const flushed = () => new Promise((r) => setImmediate(r));
  return { root, child, lines, flushed };
}

describe('requestLoggerFactory', () => {
  it('writes through a child with the request id bound, with redaction and the level checks of pino', async () => {
    const { root, lines, flushed } = capture('info');
    const log = requestLoggerFactory(root, { reqId: 'req-1' }, {});
    log.debug('not at info');
    log.info({ body: { otp_code: '1234' }, n: 1 }, 'first');
    log.error({ err: new Error('boom') }, 'second');
    const sub = log.child({ part: 'x' });
    sub.warn('third');
    await flushed();
    expect(lines.map((l) => l.msg)).toEqual(['first', 'second', 'third']);
    expect(lines.every((l) => l.reqId === 'req-1')).toBe(true);
    expect(lines[0]).toMatchObject({ level: 30, body: { otp_code: '[redacted]' }, n: 1 });
    expect(lines[1]).toMatchObject({ level: 50, err: { message: 'boom', type: 'Error' } });
    expect(lines[2]).toMatchObject({ level: 40, part: 'x' });
  });

  it('makes no pino child for a request that logs nothing at an enabled level, and one for a request that does', async () => {
    const { root, child, lines, flushed } = capture('warn');
    const quiet = requestLoggerFactory(root, { reqId: 'req-2' }, { level: 'warn' });
    quiet.info('request completed');
    quiet.debug('detail');
    expect(child).not.toHaveBeenCalled();
    expect(quiet.level).toBe('warn');

    const loud = requestLoggerFactory(root, { reqId: 'req-3' }, { level: 'warn' });
    loud.warn('dependency unavailable');
    loud.error('unhandled error');
    expect(child).toHaveBeenCalledTimes(1);
    await flushed();
    expect(lines.map((l) => [l.reqId, l.msg])).toEqual([
      ['req-3', 'dependency unavailable'],
      ['req-3', 'unhandled error'],
    ]);
  });

  it("honours a route's own log level above or below the server's", async () => {
    const { root, lines, flushed } = capture('info');
    const probe = requestLoggerFactory(root, { reqId: 'probe' }, { level: 'warn' });
    probe.info('request completed');
    probe.warn('probe failed');
    const verbose = requestLoggerFactory(root, { reqId: 'verbose' }, { level: 'debug' });
    verbose.debug('detail');
    const silent = requestLoggerFactory(root, { reqId: 'silent' }, { level: 'silent' });
    silent.fatal('never');
    await flushed();
    expect(lines.map((l) => [l.reqId, l.msg])).toEqual([
      ['probe', 'probe failed'],
      ['verbose', 'detail'],
    ]);
  });
});

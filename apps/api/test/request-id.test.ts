import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embedded } from './support/backends.js';
import { loadConfig } from '../src/config.js';
import { startApp, type TestApp } from './support/app.js';
import { noDatabaseEnv } from './support/net.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Log lines (parsed) that carry this request id. */
function logsOf(t: TestApp, id: string): Record<string, unknown>[] {
  return t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.reqId === id);
}

// Request ids and proxy handling do not depend on the storage backend.
describe('request ids', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(embedded);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('generates one per request when the client sends none, echoes it and logs with it', async () => {
    const a = await t.request('GET', '/.well-known/jwks.json');
    const b = await t.request('GET', '/.well-known/jwks.json');
    const idA = a.headers.get('x-request-id') ?? '';
    expect(idA).toMatch(UUID);
    expect(b.headers.get('x-request-id')).toMatch(UUID);
    expect(b.headers.get('x-request-id')).not.toBe(idA);
    // One access-log line per request: the request and its outcome together.
    const lines = logsOf(t, idA).filter((l) => l.msg === 'request completed');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ req: { method: 'GET', url: '/.well-known/jwks.json' }, res: { statusCode: 200 } });
    expect(lines[0]!.responseTime).toEqual(expect.any(Number));
  });

  it('keeps a well-formed id from the client, in the header, the error body and the logs', async () => {
    const id = 'lb-2026.11.25:abc_DEF-123';
    const res = await t.request('POST', '/auth/', { body: { phone_number: 'nope' }, headers: { 'x-request-id': id } });
    expect(res.status).toBe(422);
    expect(res.headers.get('x-request-id')).toBe(id);
    expect(res.body.error.request_id).toBe(id);
    expect(logsOf(t, id)).toContainEqual(expect.objectContaining({ msg: 'request completed', res: { statusCode: 422 } }));
  });

  it.each([
    ['too long', 'a'.repeat(129)],
    ['with spaces', 'two words'],
    ['with markup', '<script>alert(1)</script>'],
    ['with a log-forging attempt', 'id","level":60,"msg":"forged'],
  ])('replaces an id that is %s with a generated one', async (_label, given) => {
    const res = await t.request('GET', '/no-such-route', { headers: { 'x-request-id': given } });
    expect(res.status).toBe(404);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(UUID);
    expect(res.body.error.request_id).toBe(id);
    expect(logsOf(t, given)).toEqual([]);
    expect(logsOf(t, id!)).toContainEqual(expect.objectContaining({ msg: 'request completed', res: { statusCode: 404 } }));
  });
});

describe('access log', () => {
  it('logs a request whose client went away before the answer as "request aborted"', async () => {
    // An SMS provider that never answers keeps POST /auth/ in flight until the client gives up.
    let release = () => {};
    let inFlight = false;
    const t = await startApp(embedded, {
      sms: {
        name: 'stuck',
        send: () =>
          new Promise<void>((resolve) => {
            inFlight = true;
            release = resolve;
          }),
      },
    });
    try {
      const id = 'abort-test-1';
      const url = new URL('/auth/', t.url);
      const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id } });
      req.on('error', () => undefined);
      req.end(JSON.stringify({ phone_number: '+79123570001' }));
      await expect.poll(() => inFlight, { timeout: 5000 }).toBe(true);
      req.destroy(); // the client gives up: its connection closes before the answer
      await expect.poll(() => logsOf(t, id).map((l) => l.msg), { timeout: 2000 }).toContain('request aborted');
      const line = logsOf(t, id).find((l) => l.msg === 'request aborted');
      expect(line).toMatchObject({ req: { method: 'POST', url: '/auth/' } });
    } finally {
      release();
      await t.close();
    }
  });
});

describe('TRUST_PROXY', () => {
  // One code request per IP per window: the client IP decides whether a second request passes.
  // The per-IP limit lives in the in-process store; these apps need no database (audit writes
  // fail quietly), which keeps them fast to start.
  let env: Record<string, string>;
  beforeAll(async () => {
    env = { RATE_LIMIT_REQUEST_CODE_PER_IP: '1', ...(await noDatabaseEnv()) };
  });

  async function requestFrom(t: TestApp, phone: string, forwardedFor: string) {
    return t.request('POST', '/auth/', { body: { phone_number: phone }, headers: { 'x-forwarded-for': forwardedFor } });
  }

  it('ignores X-Forwarded-For when unset: every request is the socket address', async () => {
    const t = await startApp(embedded, { env });
    try {
      expect((await requestFrom(t, '+79123450401', '203.0.113.1')).status).toBe(200);
      const second = await requestFrom(t, '+79123450402', '203.0.113.2');
      expect(second.status).toBe(429);
      expect(second.body.error.code).toBe('RATE_LIMITED');
    } finally {
      await t.close();
    }
  });

  it.each([['true'], ['127.0.0.1'], ['10.0.0.0/8, 127.0.0.0/8']])('honours X-Forwarded-For with TRUST_PROXY=%s', async (trust) => {
    const t = await startApp(embedded, { env: { ...env, TRUST_PROXY: trust } });
    try {
      expect((await requestFrom(t, '+79123450411', '203.0.113.1')).status).toBe(200);
      // A different client behind the same proxy has its own budget…
      expect((await requestFrom(t, '+79123450412', '203.0.113.2')).status).toBe(200);
      // …and the first one has spent its own.
      const again = await requestFrom(t, '+79123450413', '203.0.113.1');
      expect(again.status).toBe(429);
      expect(again.body.error.code).toBe('RATE_LIMITED');
    } finally {
      await t.close();
    }
  });

  it('refuses a hop count, which Fastify would silently ignore', () => {
    expect(() => loadConfig({ TRUST_PROXY: '1' })).toThrow(/TRUST_PROXY: hop counts are not supported/);
  });

  it('does not trust a proxy address other than the configured one', async () => {
    const t = await startApp(embedded, { env: { ...env, TRUST_PROXY: '10.0.0.1' } });
    try {
      expect((await requestFrom(t, '+79123450421', '203.0.113.1')).status).toBe(200);
      expect((await requestFrom(t, '+79123450422', '203.0.113.2')).status).toBe(429);
    } finally {
      await t.close();
    }
  });
});

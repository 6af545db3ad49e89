import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { backends, embedded } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';

/** A port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.each(backends)('error model on $name', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(backend);
  });
  afterAll(async () => {
    await t?.close();
  });

  const expectError = (res: { status: number; body: any; headers: Headers }, status: number, code: string) => {
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body.error.request_id).toBe(res.headers.get('x-request-id'));
  };

  it('answers malformed JSON with VALIDATION_FAILED 400', async () => {
    const res = await t.request('POST', '/auth/', { rawBody: '{"phone_number": ', contentType: 'application/json' });
    expectError(res, 400, 'VALIDATION_FAILED');
  });

  it('answers an empty JSON body with VALIDATION_FAILED 400', async () => {
    const res = await t.request('PUT', '/auth/', { rawBody: '', contentType: 'application/json' });
    expectError(res, 400, 'VALIDATION_FAILED');
  });

  it('answers a JSON array or string body with VALIDATION_FAILED 400', async () => {
    for (const raw of ['[]', '"89123456789"', 'null', '42']) {
      const res = await t.request('POST', '/auth/', { rawBody: raw, contentType: 'application/json' });
      expectError(res, 400, 'VALIDATION_FAILED');
    }
  });

  it('answers a missing body with VALIDATION_FAILED 400', async () => {
    expectError(await t.request('POST', '/auth/'), 400, 'VALIDATION_FAILED');
  });

  it('answers a wrong content type with UNSUPPORTED_MEDIA_TYPE 415', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await t.request('POST', '/auth/', { rawBody: 'phone_number=89123456789', contentType });
      expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('answers a body over 16 KiB with PAYLOAD_TOO_LARGE 413', async () => {
    const res = await t.request('POST', '/auth/', { body: { phone_number: '8'.repeat(17 * 1024) } });
    expectError(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('answers unknown routes and methods with NOT_FOUND 404', async () => {
    expectError(await t.request('GET', '/nope'), 404, 'NOT_FOUND');
    expectError(await t.request('DELETE', '/auth/'), 404, 'NOT_FOUND');
    expectError(await t.request('GET', '/auth/'), 404, 'NOT_FOUND');
  });

  it('serves every path with and without the trailing slash', async () => {
    const withSlash = await t.request('POST', '/auth/', { body: { phone_number: '+79150000001' } });
    t.clock.advance(60_000);
    const withoutSlash = await t.request('POST', '/auth', { body: { phone_number: '+79150000001' } });
    expect(withSlash.status).toBe(200);
    expect(withoutSlash.status).toBe(200);
    const { access_token } = await t.login('+79150000002');
    expect((await t.request('GET', '/profile', { token: access_token })).status).toBe(200);
    expect((await t.request('GET', '/profile/', { token: access_token })).status).toBe(200);
  });

  it('ignores unknown fields instead of failing', async () => {
    const res = await t.request('POST', '/auth/', { body: { phone_number: '+79150000003', extra: { deep: [1, 2] } } });
    expect(res.status).toBe(200);
  });

  it('echoes a well-formed x-request-id and replaces a malformed one', async () => {
    const given = await t.request('GET', '/nope', { headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const bad = await t.request('GET', '/nope', { headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('dependencies down', () => {
  it('answers SERVICE_UNAVAILABLE 503 when Redis is unreachable, without leaking internals', async () => {
    const port = await closedPort();
    const t = await startApp(embedded, { env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
    try {
      const started = Date.now();
      const res = await t.request('POST', '/auth/', { body: { phone_number: '+79150000010' } });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('SERVICE_UNAVAILABLE');
      expect(res.text).not.toMatch(/ECONNREFUSED|redis|stack/i);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await t.close();
    }
  });

  it('answers SERVICE_UNAVAILABLE 503 when Postgres is unreachable', async () => {
    const port = await closedPort();
    const t = await startApp(embedded, {
      env: {
        DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/none`,
        MIGRATE_ON_START: 'false',
        OTP_TEST_NUMBERS: '+79150000011:1234',
      },
    });
    try {
      const res = await t.request('PUT', '/auth/', { body: { phone_number: '+79150000011', otp_code: '1234' } });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('SERVICE_UNAVAILABLE');
      expect(res.text).not.toMatch(/ECONNREFUSED|postgres|stack/i);
    } finally {
      await t.close();
    }
  });
});

describe('unexpected failures', () => {
  it('answer INTERNAL 500 without internals, and log the detail with the request id', async () => {
    const t = await startApp(embedded);
    try {
      // Make a service fail the way a bug would.
      t.deps.services.profile.getProfile = async () => {
        throw new TypeError('cannot read secret_internal_detail of undefined');
      };
      const { access_token } = await t.login('+79150000020');
      const res = await t.request('GET', '/profile/', { token: access_token, headers: { 'x-request-id': 'boom-1' } });
      expect(res.status).toBe(500);
      expect(res.body).toEqual({
        error: { code: 'INTERNAL', message: 'Something went wrong on our side.', request_id: 'boom-1' },
      });
      expect(res.text).not.toContain('secret_internal_detail');
      const logged = t.logs.find((l) => l.includes('secret_internal_detail'));
      expect(logged).toBeDefined();
      expect(JSON.parse(logged!)).toMatchObject({ level: 50, reqId: 'boom-1' });
    } finally {
      await t.close();
    }
  });
});

describe('configuration', () => {
  it('refuses bad values with a message naming each variable', () => {
    const attempt = () =>
      loadConfig({ PORT: 'eighty', OTP_LENGTH: '3', DATABASE_URL: 'mysql://x', DEFAULT_REGION: 'XX' });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (err) {
      const message = (err as Error).message;
      for (const name of ['PORT', 'OTP_LENGTH', 'DATABASE_URL', 'DEFAULT_REGION']) {
        expect(message).toContain(name);
      }
    }
  });

  it('names the settings a provider needs', () => {
    expect(() => loadConfig({ SMS_PROVIDER: 'webhook' })).toThrow(/SMS_WEBHOOK_URL/);
    expect(() => loadConfig({ SMS_PROVIDER: 'twilio' })).toThrow(/TWILIO_ACCOUNT_SID/);
  });

  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.otp).toMatchObject({ length: 4, ttlSeconds: 300, resendSeconds: 60, maxAttempts: 5, exposeInResponse: true });
    expect(config.phone.defaultRegion).toBe('RU');
    expect(Object.isFrozen(config.otp)).toBe(true);
  });
});

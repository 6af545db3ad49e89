import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, embedded } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';
import { closedPort } from './support/net.js';

describe.each(backends)('health probes on $name', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(backend);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('GET /health/live answers 200 without touching a dependency', async () => {
    const res = await t.request('GET', '/health/live');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', uptime_seconds: expect.any(Number) });
  });

  it('GET /health/ready answers 200 with the state of each dependency', async () => {
    const res = await t.request('GET', '/health/ready');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body.status).toBe('ok');
    expect(res.body.checks.database).toEqual({ status: 'up', latency_ms: expect.any(Number) });
    expect(res.body.checks.redis).toEqual(
      backend.name === 'embedded' ? { status: 'disabled', latency_ms: null } : { status: 'up', latency_ms: expect.any(Number) },
    );
  });

  it('keeps probes out of the request log, which other requests still reach', async () => {
    await t.request('GET', '/health/live');
    await t.request('GET', '/health/ready');
    await t.request('GET', '/metrics');
    await t.request('GET', '/no-such-route');
    const urls = t.logs.map((l) => (JSON.parse(l) as { req?: { url?: string } }).req?.url).filter(Boolean);
    expect(urls).toContain('/no-such-route');
    expect(urls.filter((u) => u!.startsWith('/health/') || u === '/metrics')).toEqual([]);
  });

  it('works without the trailing slash and with it', async () => {
    expect((await t.request('GET', '/health/live/')).status).toBe(200);
  });
});

describe('readiness with unreachable dependencies', () => {
  it('starts anyway and answers 503 naming Postgres and Redis when both are down', async () => {
    const [pgPort, redisPort] = [await closedPort(), await closedPort()];
    const t = await startApp(embedded, {
      env: {
        DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/nowhere`,
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        MIGRATE_ON_START: 'false',
        HEALTH_CHECK_TIMEOUT_MS: '500',
      },
    });
    try {
      const live = await t.request('GET', '/health/live');
      expect(live.status).toBe(200);

      const started = Date.now();
      const res = await t.request('GET', '/health/ready');
      expect(Date.now() - started).toBeLessThan(2000);
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        message: 'Not ready: database and redis are unreachable.',
        checks: { database: { status: 'down' }, redis: { status: 'down' } },
        request_id: res.headers.get('x-request-id'),
      });

      // The API itself answers 503 in the same format, not a 500.
      const api = await t.request('POST', '/auth/', { body: { phone_number: '+79123450101' } });
      expect(api.status).toBe(503);
      expect(api.body.error.code).toBe('SERVICE_UNAVAILABLE');
    } finally {
      await t.close();
    }
  });

  it('names only the database when Postgres is down and the in-process store is used', async () => {
    const t = await startApp(embedded, {
      env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${await closedPort()}/nowhere`, MIGRATE_ON_START: 'false' },
    });
    try {
      const res = await t.request('GET', '/health/ready');
      expect(res.status).toBe(503);
      expect(res.body.error.message).toBe('Not ready: database is unreachable.');
      expect(res.body.error.checks).toEqual({
        database: { status: 'down', latency_ms: expect.any(Number) },
        redis: { status: 'disabled', latency_ms: null },
      });

      // Once shutdown begins, readiness says so (balancers stop routing), liveness stays up.
      t.deps.services.health.markShuttingDown();
      const closing = await t.request('GET', '/health/ready');
      expect(closing.status).toBe(503);
      expect(closing.body.error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', message: 'The server is shutting down.' });
      expect((await t.request('GET', '/health/live')).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { backends, embedded } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';
import { noDatabaseEnv } from './support/net.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition (enough of it for these assertions). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match?.[1] || !match[3]) throw new Error(`unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = value!;
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples of a metric whose labels include `labels`. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

describe.each(backends)('GET /metrics on $name', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(backend);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function scrape(): Promise<Sample[]> {
    const res = await t.request('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseMetrics(res.text);
  }

  it('counts a full login flow: codes, failures, logins, refresh reuse, invite activation, SMS failures', async () => {
    // Alice: one wrong code, then the right one.
    const sent = await t.request('POST', '/auth/', { body: { phone_number: '+79123450201' } });
    expect(sent.status).toBe(200);
    const wrong = sent.body.otp_code === '0000' ? '1111' : '0000';
    expect((await t.request('PUT', '/auth/', { body: { phone_number: '+79123450201', otp_code: wrong } })).status).toBe(401);
    const alice = await t.request('PUT', '/auth/', { body: { phone_number: '+79123450201', otp_code: sent.body.otp_code } });
    expect(alice.status).toBe(200);

    // Refresh once, then replay the spent token: the session is revoked.
    const refreshed = await t.request('POST', '/auth/refresh', { body: { refresh_token: alice.body.refresh_token } });
    expect(refreshed.status).toBe(200);
    const replay = await t.request('POST', '/auth/refresh', { body: { refresh_token: alice.body.refresh_token } });
    expect(replay.body.error.code).toBe('REFRESH_TOKEN_REUSED');

    // Bob logs in twice (created, then existing) and activates Alice's invite code.
    const bob = await t.login('+79123450202');
    t.clock.advance(61_000);
    await t.login('+79123450202');
    const freshAlice = await t.login('+79123450201');
    const profile = await t.request('GET', '/profile/', { token: freshAlice.access_token });
    const activated = await t.request('POST', '/profile/', {
      token: bob.access_token,
      body: { other_profile_invite_code: profile.body.invite_code },
    });
    expect(activated.status).toBe(200);

    // The provider refuses one message.
    t.sms.failNext();
    const failed = await t.request('POST', '/auth/', { body: { phone_number: '+79123450203' } });
    expect(failed.body.error.code).toBe('SMS_DELIVERY_FAILED');

    await t.request('GET', '/profile/invited-users?limit=5', { token: freshAlice.access_token });
    await t.request('GET', '/no/such/route/12345');

    const m = await scrape();
    expect(value(m, 'phone_auth_otp_sent_total')).toBe(4);
    expect(value(m, 'phone_auth_otp_verified_total')).toBe(4);
    expect(value(m, 'phone_auth_otp_failed_total', { reason: 'OTP_INVALID' })).toBe(1);
    expect(value(m, 'phone_auth_sms_failures_total', { provider: 'capture' })).toBe(1);
    expect(value(m, 'phone_auth_logins_total', { user_created: 'true' })).toBe(2);
    expect(value(m, 'phone_auth_logins_total', { user_created: 'false' })).toBe(2);
    expect(value(m, 'phone_auth_refresh_token_reuse_total')).toBe(1);
    expect(value(m, 'phone_auth_invite_activations_total')).toBe(1);

    // Latency histogram by route template and status, never by raw URL.
    const count = 'http_request_duration_seconds_count';
    expect(value(m, count, { method: 'PUT', route: '/auth/', status_code: '200' })).toBe(4);
    expect(value(m, count, { method: 'PUT', route: '/auth/', status_code: '401' })).toBe(1);
    expect(value(m, count, { method: 'POST', route: '/auth/', status_code: '502' })).toBe(1);
    expect(value(m, count, { method: 'POST', route: '/auth/refresh', status_code: '401' })).toBe(1);
    expect(value(m, count, { route: '/profile/invited-users', status_code: '200' })).toBe(1);
    expect(value(m, count, { route: 'unmatched', status_code: '404' })).toBe(1);
    const routes = new Set(m.filter((s) => s.name === count).map((s) => s.labels.route));
    for (const route of routes) expect(route).not.toMatch(/\?|12345/);
    expect(value(m, 'http_request_duration_seconds_bucket', { route: '/auth/', method: 'PUT', le: '+Inf' })).toBe(5);

    // Process metrics.
    expect(value(m, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(m.some((s) => s.name === 'nodejs_heap_size_used_bytes')).toBe(true);
    expect(m.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('keeps one registry per app instance: a second app in the same process starts from zero', async () => {
    expect(value(await scrape(), 'phone_auth_logins_total')).toBeGreaterThan(0);
    // No database needed to read metrics: point it at a closed port so it starts fast.
    const other = await startApp(embedded, { env: await noDatabaseEnv() });
    try {
      const m = parseMetrics((await other.request('GET', '/metrics')).text);
      expect(value(m, 'phone_auth_logins_total')).toBe(0);
      expect(value(m, 'http_request_duration_seconds_count', { route: '/auth/' })).toBe(0);
    } finally {
      await other.close();
    }
  });
});

it('METRICS_ENABLED=false removes /metrics', async () => {
  const t = await startApp(embedded, {
    env: { METRICS_ENABLED: 'false', ...(await noDatabaseEnv()) },
  });
  try {
    const res = await t.request('GET', '/metrics');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  } finally {
    await t.close();
  }
});


describe('METRICS_TOKEN', () => {
  const TOKEN = 'metrics-scraper-token-0123456789abcdef';

  it('must be a Bearer credential of at least 32 characters', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN: must be at least 32 characters/);
    expect(() => loadConfig({ METRICS_TOKEN: `${TOKEN} with spaces` })).toThrow(/METRICS_TOKEN: may contain only letters, digits/);
    expect(loadConfig({ METRICS_TOKEN: TOKEN }).ops.metricsToken).toBe(TOKEN);
    expect(loadConfig({}).ops.metricsToken).toBeUndefined();
  });

  it('when set, /metrics answers only a scrape that presents it', async () => {
    const t = await startApp(embedded, { env: { METRICS_TOKEN: TOKEN, ...(await noDatabaseEnv()) } });
    try {
      const wrong: Record<string, string>[] = [
        {},
        { authorization: `Bearer ${TOKEN}x` },
        { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
        { authorization: `Bearer ${TOKEN.slice(0, -1)}${TOKEN.endsWith('f') ? 'e' : 'f'}` }, // same length, last character wrong
        { authorization: `Basic ${TOKEN}` },
      ];
      for (const headers of wrong) {
        const res = await t.request('GET', '/metrics', { headers });
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('UNAUTHORIZED');
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
        expect(res.text).not.toContain('process_cpu');
      }
      const ok = await t.request('GET', '/metrics', { headers: { authorization: `bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(parseMetrics(ok.text).some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
      // The token guards /metrics only: the API itself is unchanged.
      expect((await t.request('GET', '/health/live')).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { backends } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';
import { failNextDenylistWrite } from './support/faults.js';

/**
 * Admin API details seen over raw HTTP (the SDK-level behaviour is in sdk.test.ts): the 404 that
 * hides it without a token, the auth header forms, and phones in the path.
 */

const ADMIN_TOKEN = 'raw-admin-token-0123456789abcdefghijklmnopq';

describe('ADMIN_API_TOKEN configuration', () => {
  it('refuses a token shorter than 32 characters, naming the variable', () => {
    expect(() => loadConfig({ ADMIN_API_TOKEN: 'too-short' })).toThrow(/ADMIN_API_TOKEN: must be at least 32 characters/);
    expect(loadConfig({ ADMIN_API_TOKEN: ADMIN_TOKEN }).admin.apiToken).toBe(ADMIN_TOKEN);
    expect(loadConfig({}).admin.apiToken).toBeUndefined();
  });

  it('refuses a token that could never be sent as a Bearer credential, naming the variable', () => {
    for (const token of ['0123456789abcdefghijklmnopqrstu#v', 'correct horse battery staple is long enough', 'zażółć-gęślą-jaźń-0123456789abcdef']) {
      expect(() => loadConfig({ ADMIN_API_TOKEN: token })).toThrow(/ADMIN_API_TOKEN: may contain only letters, digits/);
    }
    // What `openssl rand -base64 32` and `openssl rand -hex 32` print is accepted.
    for (const token of ['q2Vd8+Zp/0Yw1c3XbN7mKs9LfHt4RjUe6GiAoP5yWzE=', 'a'.repeat(64)]) {
      expect(loadConfig({ ADMIN_API_TOKEN: token }).admin.apiToken).toBe(token);
    }
  });
});

describe.each(backends)('admin API over HTTP on $name', (backend) => {
  let t: TestApp;
  let hidden: TestApp;
  beforeAll(async () => {
    t = await startApp(backend, { env: { ADMIN_API_TOKEN: ADMIN_TOKEN } });
    hidden = await startApp(backend);
  });
  afterAll(async () => {
    await Promise.all([t?.close(), hidden?.close()]);
  });

  it('without ADMIN_API_TOKEN answers exactly like an unknown route, token or not', async () => {
    const unknown = await hidden.request('GET', '/no-such-route');
    for (const [method, path] of [
      ['GET', '/admin/stats'],
      ['GET', '/admin/users?limit=5'],
      ['POST', '/admin/users/%2B79128000001/block'],
    ] as const) {
      const res = await hidden.request(method, path, { token: ADMIN_TOKEN });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
      expect(res.body.error.message).toBe(`No route ${method} ${path.split('?')[0]}.`);
      expect(Object.keys(res.body.error).sort()).toEqual(Object.keys(unknown.body.error).sort());
    }
  });

  it('takes the token as a case-insensitive Bearer and refuses anything else with 401', async () => {
    const ok = await t.request('GET', '/admin/stats', { headers: { authorization: `bearer ${ADMIN_TOKEN}` } });
    expect(ok.status).toBe(200);
    for (const authorization of [undefined, `Basic ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN.slice(0, -1)}`, `Bearer ${ADMIN_TOKEN}x`]) {
      const res = await t.request('GET', '/admin/stats', { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({ code: 'UNAUTHORIZED', message: 'A valid admin token is required.' });
    }
  });

  it('checks the token before validating the request, so nothing leaks to the unauthenticated', async () => {
    const res = await t.request('GET', '/admin/users?limit=100000');
    expect(res.status).toBe(401);
    const authed = await t.request('GET', '/admin/users?limit=100000', { token: ADMIN_TOKEN });
    expect(authed.status).toBe(400);
    expect(authed.body.error.fields.map((f: { path: string }) => f.path)).toContain('query.limit');
  });

  it('accepts the phone in the path URL-encoded, in national form, or with a raw +', async () => {
    await t.login('+79128000002');
    for (const path of ['/admin/users/%2B79128000002', '/admin/users/89128000002', '/admin/users/+79128000002', '/admin/users/%2B7%20912%20800-00-02/']) {
      const res = await t.request('GET', path, { token: ADMIN_TOKEN });
      expect(res.status, path).toBe(200);
      expect(res.body.phone_number).toBe('+79128000002');
    }
  });

  it('refuses crafted cursors that decode but lie outside what Postgres stores with 400, not 500', async () => {
    const cursor = (text: string) => Buffer.from(text).toString('base64url');
    const id = '00000000-0000-4000-8000-000000000001';
    for (const path of [
      `/admin/audit?cursor=${cursor('a:9999999999999999999')}`,
      `/admin/audit?cursor=${cursor('a:9223372036854775808')}`,
      `/admin/users?cursor=${cursor(`u:-010000-01-01T00:00:00.000Z|${id}`)}`,
      `/admin/users?cursor=${cursor(`u:+275760-09-13T00:00:00.000Z|${id}`)}`,
      `/admin/users?cursor=${cursor(`u:0000-01-01T00:00:00.000Z|${id}`)}`,
      `/admin/users?cursor=${cursor(`u:2026-02-30T00:00:00.000Z|${id}`)}`,
      `/admin/users?cursor=${cursor(`u:Tue Dec 01 2026|${id}`)}`,
    ]) {
      const res = await t.request('GET', path, { token: ADMIN_TOKEN });
      expect(res.status, path).toBe(400);
      expect(res.body.error.code, path).toBe('VALIDATION_FAILED');
    }
    // The largest cursors that are in range still page normally.
    const last = await t.request('GET', `/admin/audit?cursor=${cursor('a:9223372036854775807')}`, { token: ADMIN_TOKEN });
    expect(last.status).toBe(200);
    const early = await t.request('GET', `/admin/users?cursor=${cursor(`u:0001-01-01T00:00:00.000Z|${id}`)}`, { token: ADMIN_TOKEN });
    expect(early.status).toBe(200);
  });

  it('a block retried after the denylist failed still refuses the blocked user\'s access tokens', async () => {
    const phone = '+79128000003';
    const session = await t.login(phone);
    failNextDenylistWrite(t);
    const failed = await t.request('POST', `/admin/users/${encodeURIComponent(phone)}/block`, { token: ADMIN_TOKEN });
    expect(failed.status).toBe(503);
    const retried = await t.request('POST', `/admin/users/${encodeURIComponent(phone)}/block`, { token: ADMIN_TOKEN });
    expect(retried.status).toBe(200);
    // The first call revoked the session; the retry revokes nothing more but denylists it.
    expect(retried.body.sessions_revoked).toBe(0);
    const res = await t.request('POST', '/auth/logout', { token: session.access_token });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('SESSION_REVOKED');
  });

  it('never answers 500 for odd input', async () => {
    for (const path of ['/admin/users/%00', '/admin/users/' + '9'.repeat(150), '/admin/audit?type=nope', '/admin/audit?cursor=' + 'x'.repeat(300), '/admin/users?phone_prefix=abc']) {
      const res = await t.request('GET', path, { token: ADMIN_TOKEN });
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';

/**
 * Behaviour the performance work must keep (bench/, README "Performance"): verified access tokens
 * are cached, audit events are written in groups, a session and its refresh token are created by
 * one statement.
 */
describe.each(backends)('hot paths on $name', (backend) => {
  let t: TestApp;
  let n = 0;
  const phone = () => `+7914${String(n++).padStart(7, '0')}`;

  beforeAll(async () => {
    t = await startApp(backend);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses a token the moment its session ends, even after it was accepted (and cached) before', async () => {
    const { access_token } = await t.login(phone());
    for (let i = 0; i < 3; i++) expect((await t.request('GET', '/profile/', { token: access_token })).status).toBe(200);
    expect((await t.request('POST', '/auth/logout', { token: access_token })).status).toBe(204);
    const res = await t.request('GET', '/profile/', { token: access_token });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('SESSION_REVOKED');
  });

  it('writes every audit event of a burst of concurrent logins, each flow in order', async () => {
    const phones = Array.from({ length: 40 }, phone);
    const results = await Promise.all(phones.map((p) => t.login(p)));
    expect(results.every((r) => r.user_created)).toBe(true);
    const rows = await t.deps.database.db
      .selectFrom('audit_events')
      .select(['type', 'phone_number'])
      .where('phone_number', 'in', phones)
      .orderBy('id')
      .execute();
    for (const p of phones) {
      expect(rows.filter((r) => r.phone_number === p).map((r) => r.type)).toEqual(['otp_requested', 'otp_verified', 'login']);
    }
  });

  it('opens a session whose refresh token works at once, for each of many concurrent logins', async () => {
    const phones = Array.from({ length: 20 }, phone);
    const logins = await Promise.all(phones.map((p) => t.login(p)));
    const refreshed = await Promise.all(
      logins.map((l) => t.request('POST', '/auth/refresh', { body: { refresh_token: l.refresh_token } })),
    );
    expect(refreshed.map((r) => r.status)).toEqual(phones.map(() => 200));
    const sessions = await t.deps.database.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('users.phone_number', 'in', phones)
      .executeTakeFirstOrThrow();
    expect(Number(sessions.n)).toBe(phones.length);
  });
});

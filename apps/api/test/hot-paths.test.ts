import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../src/lib/secrets.js';
import { openLoginSession } from '../src/modules/sessions/sessions.repository.js';
import { backends } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';

/**
 * Behaviour the performance work must keep (bench/, README "Performance"): verified access tokens
 * are cached, audit events are written in groups, a login (user, session, refresh token, audit
 * rows) is one statement.
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

  it('refuses an ended session on every user route: the profile reads in their own query, the rest by the denylist', async () => {
    const inviter = await t.login(phone());
    const code: string = (await t.request('GET', '/profile/', { token: inviter.access_token })).body.invite_code;
    const { access_token } = await t.login(phone());
    expect((await t.request('GET', '/profile/invited-users', { token: access_token })).status).toBe(200);
    expect((await t.request('POST', '/auth/logout', { token: access_token })).status).toBe(204);
    const answers = [
      await t.request('GET', '/profile/', { token: access_token }),
      await t.request('GET', '/profile/invited-users', { token: access_token }),
      await t.request('GET', '/profile/invited-users?limit=5', { token: access_token }),
      await t.request('POST', '/profile/', { token: access_token, body: { other_profile_invite_code: code } }),
      await t.request('POST', '/auth/logout', { token: access_token }),
    ];
    expect(answers.map((r) => [r.status, r.body.error?.code])).toEqual(answers.map(() => [401, 'SESSION_REVOKED']));
  });

  it('the profile reads refuse a session revoked in the database even when the denylist does not know it', async () => {
    // As after a Redis restart without persistence, or an operator revoking by SQL: only the
    // sessions row says the session ended.
    const { access_token } = await t.login(phone());
    const me = await t.request('GET', '/profile/', { token: access_token });
    expect(me.status).toBe(200);
    await t.deps.database.db
      .updateTable('sessions')
      .set({ revoked_at: new Date(t.clock.now()), revoked_reason: 'test' })
      .where('user_id', '=', (await t.deps.database.db.selectFrom('users').select('id').where('phone_number', '=', me.body.phone_number).executeTakeFirstOrThrow()).id)
      .execute();
    for (const path of ['/profile/', '/profile/invited-users']) {
      const res = await t.request('GET', path, { token: access_token });
      expect([res.status, res.body.error?.code]).toEqual([401, 'SESSION_REVOKED']);
    }
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

  it('a first login whose generated invite code is taken writes nothing, so it can be rerun with a new code', async () => {
    const owner = await t.login(phone());
    const taken: string = (await t.request('GET', '/profile/', { token: owner.access_token })).body.invite_code;
    const p = phone();
    const now = new Date(t.clock.now());
    const attempt = openLoginSession(t.deps.database.db, {
      phone: p,
      inviteCode: taken,
      sessionId: randomUUID(),
      now,
      expiresAt: new Date(now.getTime() + 60_000),
      refreshHash: sha256('collision-test'),
      ip: '127.0.0.1',
      userAgent: null,
    });
    await expect(attempt).rejects.toMatchObject({ constraint: 'users_invite_code_key' });
    const db = t.deps.database.db;
    expect(await db.selectFrom('users').select('id').where('phone_number', '=', p).execute()).toHaveLength(0);
    expect(await db.selectFrom('audit_events').select('id').where('phone_number', '=', p).execute()).toHaveLength(0);
    // Through the API the same first login succeeds (a fresh random code).
    expect((await t.login(p)).user_created).toBe(true);
  });

  it('a first login that loses the race for its phone to a slower insert answers with the winner, user_created false', async () => {
    const p = '+79140000700';
    const app = await startApp(backend, { env: { OTP_TEST_NUMBERS: `${p}:1357` } });
    try {
      const db = app.deps.database.db;
      // Another first login of the phone has inserted the user but not committed yet.
      let commit!: () => void;
      const held = new Promise<void>((resolve) => (commit = resolve));
      let inserted!: () => void;
      const isInserted = new Promise<void>((resolve) => (inserted = resolve));
      const winner = db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto('users')
          .values({ phone_number: p, invite_code: 'WNRS7K', created_at: new Date() })
          .returning('id')
          .executeTakeFirstOrThrow();
        inserted();
        await held;
        return row.id;
      });
      await isInserted;
      const login = app.request('PUT', '/auth/', { body: { phone_number: p, otp_code: '1357' } });
      await new Promise((resolve) => setTimeout(resolve, 300));
      commit();
      const winnerId = await winner;
      const res = await login;
      expect(res.status).toBe(200);
      expect(res.body.user_created).toBe(false);
      expect(JSON.parse(Buffer.from(res.body.access_token.split('.')[1], 'base64url').toString()).sub).toBe(winnerId);
      expect(await db.selectFrom('users').select('id').where('phone_number', '=', p).execute()).toHaveLength(1);
      const audit = await db.selectFrom('audit_events').select(['type', 'details']).where('phone_number', '=', p).orderBy('id').execute();
      expect(audit.map((r) => r.type)).toEqual(['otp_verified', 'login']);
      expect(audit[1]?.details).toMatchObject({ user_created: false });
    } finally {
      await app.close();
    }
  });
});

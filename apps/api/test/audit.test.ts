import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';

describe.each(backends)('audit events on $name', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    // 10-digit codes, so "the code is nowhere in the table" cannot pass or fail by coincidence.
    t = await startApp(backend, { env: { OTP_LENGTH: '10' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('records a full flow with type, user, phone, IP and time, and never a code or a token', async () => {
    const phone = '+79123510001';
    const inviter = '+79123510002';
    const startedAt = t.clock.now();

    const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
    const code: string = sent.body.otp_code;
    const wrongCode = code === '0000000000' ? '1111111111' : '0000000000';
    expect((await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: wrongCode } })).status).toBe(401);
    t.clock.advance(1000);
    const login = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: code } });
    expect(login.status).toBe(200);
    const userId = JSON.parse(Buffer.from(login.body.access_token.split('.')[1], 'base64url').toString()).sub as string;
    const refreshed = await t.request('POST', '/auth/refresh', { body: { refresh_token: login.body.refresh_token } });
    expect(refreshed.status).toBe(200);
    const token: string = refreshed.body.access_token;

    const other = await t.login(inviter);
    const inviteCode: string = (await t.request('GET', '/profile/', { token: other.access_token })).body.invite_code;
    expect((await t.request('POST', '/profile/', { token, body: { other_profile_invite_code: 'ZZZZZZ' } })).status).toBe(404);
    expect((await t.request('POST', '/profile/', { token, body: { other_profile_invite_code: inviteCode } })).status).toBe(200);
    expect((await t.request('POST', '/auth/logout', { token })).status).toBe(204);
    expect((await t.request('POST', '/auth/refresh', { body: { refresh_token: login.body.refresh_token } })).body.error.code).toBe(
      'REFRESH_TOKEN_REUSED',
    );

    const rows = await t.deps.database.db.selectFrom('audit_events').selectAll().orderBy('id').execute();
    const mine = rows.filter((r) => r.phone_number === phone || r.user_id === userId);
    expect(mine.map((r) => r.type)).toEqual([
      'otp_requested',
      'otp_failed',
      'otp_verified',
      'login',
      'token_refreshed',
      'invite_failed',
      'invite_activated',
      'logout',
      'refresh_reused',
    ]);
    for (const r of mine) {
      expect(r.ip).toBe('127.0.0.1');
      expect(r.created_at.getTime()).toBeGreaterThanOrEqual(startedAt);
      expect(r.created_at.getTime()).toBeLessThanOrEqual(t.clock.now());
    }
    const byType = new Map(mine.map((r) => [r.type, r]));
    for (const type of ['otp_requested', 'otp_failed', 'otp_verified', 'login', 'token_refreshed', 'logout']) {
      expect(byType.get(type)?.phone_number).toBe(phone);
    }
    for (const type of ['login', 'token_refreshed', 'invite_failed', 'invite_activated', 'logout', 'refresh_reused']) {
      expect(byType.get(type)?.user_id).toBe(userId);
    }
    expect(byType.get('otp_failed')?.details).toMatchObject({ reason: 'OTP_INVALID' });
    expect(byType.get('login')?.details).toMatchObject({ user_created: true, session_id: expect.any(String) });
    expect(byType.get('invite_failed')?.details).toEqual({ code: 'ZZZZZZ', outcome: 'not_found' });
    expect(byType.get('invite_activated')?.details).toEqual({ code: inviteCode, outcome: 'activated' });

    // The whole table, not just this user's rows: no code (right or wrong), no token.
    const dump = JSON.stringify(rows);
    for (const secret of [code, wrongCode, login.body.access_token, login.body.refresh_token, refreshed.body.refresh_token, token]) {
      expect(dump).not.toContain(secret);
    }
  });

  it("keeps a deleted user's history, user id included: the trail does not depend on the rows it mentions", async () => {
    const phone = '+79123510003';
    const login = await t.login(phone);
    const userId = JSON.parse(Buffer.from(login.access_token.split('.')[1]!, 'base64url').toString()).sub as string;
    const { db } = t.deps.database;
    // An operator removes the user (sessions and refresh tokens go with it).
    await db.deleteFrom('users').where('id', '=', userId).execute();
    expect(await db.selectFrom('sessions').select('id').where('user_id', '=', userId).execute()).toEqual([]);

    const rows = await db.selectFrom('audit_events').selectAll().where('phone_number', '=', phone).orderBy('id').execute();
    expect(rows.map((r) => r.type)).toEqual(['otp_requested', 'otp_verified', 'login']);
    expect(rows.find((r) => r.type === 'login')?.user_id).toBe(userId);
  });
});

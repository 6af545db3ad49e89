import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';
import { failNextDenylistWrite } from './support/faults.js';

function claims(token: string): { sub: string; sid: string } {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string; sid: string };
}

describe.each(backends)('sessions on $name', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(backend);
  });
  afterAll(async () => {
    await t?.close();
  });

  const refresh = (refresh_token: string) => t.request('POST', '/auth/refresh', { body: { refresh_token } });
  const profile = (token: string) => t.request('GET', '/profile/', { token });

  describe('POST /auth/refresh', () => {
    it('rotates: a new token pair for the same session, the old refresh token spent', async () => {
      const login = await t.login('+79123460001');
      t.clock.advance(1000);
      const res = await refresh(login.refresh_token);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        token_type: 'Bearer',
        expires_in: 900,
        refresh_expires_in: 2_592_000,
        user_created: false,
      });
      expect(res.body.refresh_token).not.toBe(login.refresh_token);
      expect(res.body.access_token).not.toBe(login.access_token);
      expect(claims(res.body.access_token).sid).toBe(claims(login.access_token).sid);
      expect(claims(res.body.access_token).sub).toBe(claims(login.access_token).sub);
      const me = await profile(res.body.access_token);
      expect(me.status).toBe(200);
      expect(me.body.phone_number).toBe('+79123460001');

      // The new refresh token rotates again.
      const again = await refresh(res.body.refresh_token);
      expect(again.status).toBe(200);
    });

    it('detects reuse: a spent token revokes the whole session at once', async () => {
      const login = await t.login('+79123460002');
      const rotated = await refresh(login.refresh_token);
      expect(rotated.status).toBe(200);
      // Both access tokens of the session work before the replay.
      expect((await profile(login.access_token)).status).toBe(200);
      expect((await profile(rotated.body.access_token)).status).toBe(200);

      const replay = await refresh(login.refresh_token);
      expect(replay.status).toBe(401);
      expect(replay.body.error.code).toBe('REFRESH_TOKEN_REUSED');

      for (const token of [login.access_token, rotated.body.access_token]) {
        const res = await profile(token);
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('SESSION_REVOKED');
      }
      // The session's current refresh token (the thief's or the user's) is dead too.
      const next = await refresh(rotated.body.refresh_token);
      expect(next.status).toBe(401);
      expect(next.body.error.code).toBe('REFRESH_TOKEN_INVALID');
    });

    it('leaves the user\'s other sessions alone when one session is revoked for reuse', async () => {
      const phone = '+79123460003';
      const a = await t.login(phone);
      t.clock.advance(61_000);
      const b = await t.login(phone);
      await refresh(a.refresh_token);
      expect((await refresh(a.refresh_token)).body.error.code).toBe('REFRESH_TOKEN_REUSED');
      expect((await profile(b.access_token)).status).toBe(200);
      expect((await refresh(b.refresh_token)).status).toBe(200);
    });

    it('records each rotation as exactly one token_refreshed audit event, and a refused refresh as none', async () => {
      const phone = '+79123460005';
      const login = await t.login(phone);
      const { sub, sid } = claims(login.access_token);
      const first = await refresh(login.refresh_token);
      expect(first.status).toBe(200);
      t.clock.advance(1000);
      expect((await refresh(first.body.refresh_token)).status).toBe(200);
      // A refused refresh records no token_refreshed event.
      expect((await refresh('y'.repeat(43))).body.error.code).toBe('REFRESH_TOKEN_INVALID');
      const events = async () =>
        t.deps.database.db.selectFrom('audit_events').selectAll().where('user_id', '=', sub).orderBy('id').execute();
      const rows = (await events()).filter((r) => r.type === 'token_refreshed');
      expect(rows).toHaveLength(2);
      for (const r of rows) {
        expect(r).toMatchObject({ phone_number: phone, ip: '127.0.0.1', details: { session_id: sid } });
      }
      expect(rows[1]!.created_at.getTime() - rows[0]!.created_at.getTime()).toBe(1000);
      // The flow's order: the login's events, then the two rotations.
      expect((await events()).map((r) => r.type)).toEqual(['login', 'token_refreshed', 'token_refreshed']);
    });

    it('refuses an unknown refresh token with REFRESH_TOKEN_INVALID', async () => {
      const res = await refresh('x'.repeat(43));
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('REFRESH_TOKEN_INVALID');
    });

    it('refuses an expired refresh token with REFRESH_TOKEN_INVALID (not as a reuse)', async () => {
      const login = await t.login('+79123460004');
      t.clock.advance(2_592_000_000 + 1000);
      const res = await refresh(login.refresh_token);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('REFRESH_TOKEN_INVALID');
      // Refusing spent nothing: presented again it is still invalid, not a replay.
      expect((await refresh(login.refresh_token)).body.error.code).toBe('REFRESH_TOKEN_INVALID');
    });

    it('refuses a body without a refresh token with VALIDATION_FAILED', async () => {
      const res = await t.request('POST', '/auth/refresh', { body: {} });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    });
  });

  describe('POST /auth/logout', () => {
    it('ends this session only, effective on the very next request', async () => {
      const phone = '+79123460101';
      const a = await t.login(phone);
      t.clock.advance(61_000);
      const b = await t.login(phone);

      const out = await t.request('POST', '/auth/logout', { token: a.access_token });
      expect(out.status).toBe(204);
      expect(out.text).toBe('');

      const refused = await profile(a.access_token);
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe('SESSION_REVOKED');
      expect((await refresh(a.refresh_token)).body.error.code).toBe('REFRESH_TOKEN_INVALID');
      // The refused token was not spent: presented again it is still invalid, not a replay.
      expect((await refresh(a.refresh_token)).body.error.code).toBe('REFRESH_TOKEN_INVALID');
      // The other device stays logged in.
      expect((await profile(b.access_token)).status).toBe(200);
      expect((await refresh(b.refresh_token)).status).toBe(200);
    });

    it('ends every session of the user with {"all": true}', async () => {
      const phone = '+79123460102';
      const a = await t.login(phone);
      t.clock.advance(61_000);
      const b = await t.login(phone);
      t.clock.advance(61_000);
      const c = await t.login(phone);
      const other = await t.login('+79123460103');

      const out = await t.request('POST', '/auth/logout', { token: a.access_token, body: { all: true } });
      expect(out.status).toBe(204);
      for (const s of [a, b, c]) {
        const res = await profile(s.access_token);
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('SESSION_REVOKED');
        expect((await refresh(s.refresh_token)).body.error.code).toBe('REFRESH_TOKEN_INVALID');
      }
      // Another user is not affected.
      expect((await profile(other.access_token)).status).toBe(200);
    });

    it('completes on a retry when the denylist could not be written the first time', async () => {
      const phone = '+79123460106';
      const a = await t.login(phone);
      t.clock.advance(61_000);
      const b = await t.login(phone);
      // Redis fails right after the sessions are revoked in Postgres: the logout answers 503.
      failNextDenylistWrite(t);
      const failed = await t.request('POST', '/auth/logout', { token: a.access_token, body: { all: true } });
      expect(failed.status).toBe(503);
      expect(failed.body.error.code).toBe('SERVICE_UNAVAILABLE');
      // The client retries; nothing is left to revoke, but the denylist gets both sessions now.
      expect((await t.request('POST', '/auth/logout', { token: a.access_token, body: { all: true } })).status).toBe(204);
      for (const s of [a, b]) {
        const res = await t.request('POST', '/auth/logout', { token: s.access_token });
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('SESSION_REVOKED');
      }
    });

    it('refuses a second logout with the ended session\'s token, and a logout without a token', async () => {
      const a = await t.login('+79123460104');
      expect((await t.request('POST', '/auth/logout', { token: a.access_token })).status).toBe(204);
      const again = await t.request('POST', '/auth/logout', { token: a.access_token });
      expect(again.status).toBe(401);
      expect(again.body.error.code).toBe('SESSION_REVOKED');
      const anonymous = await t.request('POST', '/auth/logout');
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.error.code).toBe('UNAUTHORIZED');
    });

    it('lets the user log in again after logging out', async () => {
      const phone = '+79123460105';
      const a = await t.login(phone);
      await t.request('POST', '/auth/logout', { token: a.access_token, body: { all: true } });
      t.clock.advance(61_000);
      const b = await t.login(phone);
      expect((await profile(b.access_token)).status).toBe(200);
    });
  });

  describe('blocked users', () => {
    const block = (phone: string, at: Date | null) =>
      t.deps.database.db.updateTable('users').set({ blocked_at: at }).where('phone_number', '=', phone).execute();

    it('cannot log in (USER_BLOCKED 403) nor refresh, and the refresh token survives an unblock', async () => {
      const phone = '+79123460201';
      const login = await t.login(phone);
      await block(phone, new Date(t.clock.now()));

      t.clock.advance(61_000);
      const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      const denied = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: sent.body.otp_code } });
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe('USER_BLOCKED');

      // Refused every time (a refused refresh spends nothing, so the second is no replay).
      for (let i = 0; i < 2; i++) {
        const refused = await refresh(login.refresh_token);
        expect(refused.status).toBe(403);
        expect(refused.body.error.code).toBe('USER_BLOCKED');
      }
      const sid = claims(login.access_token).sid;
      const tokens = await t.deps.database.db.selectFrom('refresh_tokens').select('spent_at').where('session_id', '=', sid).execute();
      expect(tokens).toEqual([{ spent_at: null }]);
      // Refusing did not spend the token: after an unblock it is not mistaken for a replay.
      await block(phone, null);
      const after = await refresh(login.refresh_token);
      expect(after.status).toBe(200);
    });
  });
});

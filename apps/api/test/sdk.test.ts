import {
  createAccessTokenVerifier,
  createPhoneAuthClient,
  isPhoneAuthError,
  PhoneAuthError,
  type PhoneAuthClient,
  type PhoneAuthErrorCode,
  type Tokens,
} from '@phone-auth/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from './support/app.js';
import { backends } from './support/backends.js';

/**
 * The SDK against a real server: every method, every error code the SDK can observe, the
 * transparent refresh, and the token verifier protecting another service's route.
 */

const ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghijklmnop';

/** Resolves to the PhoneAuthError the promise rejects with (fails the test if it resolves). */
async function failure(promise: Promise<unknown>): Promise<PhoneAuthError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof PhoneAuthError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

async function expectCode(promise: Promise<unknown>, code: PhoneAuthErrorCode, status: number): Promise<PhoneAuthError> {
  const err = await failure(promise);
  expect({ code: err.code, status: err.status }).toEqual({ code, status });
  expect(err.message.length).toBeGreaterThan(0);
  return err;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of it) out.push(item);
  return out;
}

describe.each(backends)('@phone-auth/client on $name', (backend) => {
  let t: TestApp;
  /** No ADMIN_API_TOKEN, RU numbers only, one code per phone per day. */
  let other: TestApp;
  let admin: PhoneAuthClient;

  const clientFor = (app: TestApp, extra: Partial<Parameters<typeof createPhoneAuthClient>[0]> = {}) =>
    createPhoneAuthClient({ baseUrl: app.url, ...extra });

  /** A logged-in client for a phone (requests a code, reads it from the response). */
  async function loggedIn(phone: string, extra: Partial<Parameters<typeof createPhoneAuthClient>[0]> = {}) {
    const client = clientFor(t, extra);
    t.clock.advance(61_000);
    const sent = await client.requestCode(phone);
    await client.verifyCode(phone, sent.otp_code!);
    return client;
  }

  beforeAll(async () => {
    [t, other] = await Promise.all([
      startApp(backend, { env: { ADMIN_API_TOKEN: ADMIN_TOKEN } }),
      startApp(backend, { env: { SMS_ALLOWED_COUNTRIES: 'RU', OTP_MAX_SENDS_PER_PHONE_PER_DAY: '1' } }),
    ]);
    admin = clientFor(t, { adminToken: ADMIN_TOKEN });
  });
  afterAll(async () => {
    await Promise.all([t?.close(), other?.close()]);
  });

  describe('login', () => {
    it('requests a code, verifies it, keeps the tokens and reports them through onTokens', async () => {
      const seen: (Tokens | null)[] = [];
      const client = clientFor(t, { onTokens: (tk) => void seen.push(tk) });
      const sent = await client.requestCode('8 912 600-00-01');
      expect(sent).toEqual({ otp_code: expect.stringMatching(/^[0-9]{4}$/), expires_in: 300, retry_after: 60 });
      const tokens = await client.verifyCode('+79126000001', sent.otp_code!);
      expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 900, user_created: true });
      expect(client.getTokens()).toEqual({ accessToken: tokens.access_token, refreshToken: tokens.refresh_token });
      expect(seen).toEqual([{ accessToken: tokens.access_token, refreshToken: tokens.refresh_token }]);
      const profile = await client.getProfile();
      expect(profile).toMatchObject({ phone_number: '+79126000001', other_profile_invite_code: null, invited_users: [] });
    });

    it('resumes a session from stored tokens', async () => {
      const first = await loggedIn('+79126000002');
      const resumed = clientFor(t, { tokens: first.getTokens() });
      expect((await resumed.getProfile()).phone_number).toBe('+79126000002');
    });

    it('throws typed errors for bad phones, bad and reused codes, and resends that come too soon', async () => {
      const client = clientFor(t);
      const invalid = await expectCode(client.requestCode('hello'), 'PHONE_NUMBER_INVALID', 422);
      expect(isPhoneAuthError(invalid, 'PHONE_NUMBER_INVALID')).toBe(true);
      const tooLarge = await expectCode(client.requestCode('1'.repeat(20_000)), 'PAYLOAD_TOO_LARGE', 413);
      expect(tooLarge.requestId).toEqual(expect.any(String));

      const validation = await expectCode(client.verifyCode('+79126000003', 'abcd'), 'VALIDATION_FAILED', 400);
      expect(validation.fields?.map((f) => f.path)).toContain('body.otp_code');

      t.clock.advance(61_000);
      const sent = await client.requestCode('+79126000003');
      t.clock.advance(10_000);
      const soon = await expectCode(client.requestCode('+79126000003'), 'OTP_RESEND_TOO_SOON', 429);
      expect(soon.retryAfter).toBe(50);

      const wrong = sent.otp_code === '0000' ? '1111' : '0000';
      await expectCode(client.verifyCode('+79126000003', wrong), 'OTP_INVALID', 401);
      await client.verifyCode('+79126000003', sent.otp_code!);
      await expectCode(client.verifyCode('+79126000003', sent.otp_code!), 'OTP_INVALID', 401);
    });

    it('burns a code after too many wrong attempts (OTP_TOO_MANY_ATTEMPTS)', async () => {
      const client = clientFor(t);
      t.clock.advance(61_000);
      const sent = await client.requestCode('+79126000004');
      const wrong = sent.otp_code === '0000' ? '1111' : '0000';
      for (let i = 0; i < 4; i++) await expectCode(client.verifyCode('+79126000004', wrong), 'OTP_INVALID', 401);
      await expectCode(client.verifyCode('+79126000004', wrong), 'OTP_TOO_MANY_ATTEMPTS', 429);
      await expectCode(client.verifyCode('+79126000004', sent.otp_code!), 'OTP_INVALID', 401);
    });

    it('reports SMS_DELIVERY_FAILED when the provider fails', async () => {
      t.sms.failNext();
      t.clock.advance(61_000);
      await expectCode(clientFor(t).requestCode('+79126000005'), 'SMS_DELIVERY_FAILED', 502);
    });

    it('reports PHONE_COUNTRY_NOT_ALLOWED and RATE_LIMITED with the server configuration that causes them', async () => {
      const client = clientFor(other);
      await expectCode(client.requestCode('+1 415 555 2671'), 'PHONE_COUNTRY_NOT_ALLOWED', 422);
      await client.requestCode('+79126000006');
      other.clock.advance(61_000);
      const limited = await expectCode(client.requestCode('+79126000006'), 'RATE_LIMITED', 429);
      expect(limited.retryAfter).toBeGreaterThan(0);
    });

    it('reports SERVICE_UNAVAILABLE with retryAfter when the database is down', async () => {
      // A server whose Postgres refuses connections (a closed port): codes are still sent from the
      // in-process store, but creating the session needs the database.
      const down = await startApp(backend, {
        env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', DATABASE_SCHEMA: 'public', MIGRATE_ON_START: 'false' },
      });
      try {
        const client = clientFor(down);
        const sent = await client.requestCode('+79126000008');
        const err = await expectCode(client.verifyCode('+79126000008', sent.otp_code!), 'SERVICE_UNAVAILABLE', 503);
        expect(err.retryAfter).toBe(5);
      } finally {
        await down.close();
      }
    });

    it('reports NETWORK_ERROR (status 0) when the server cannot be reached', async () => {
      const client = createPhoneAuthClient({ baseUrl: 'http://127.0.0.1:1' });
      const err = await expectCode(client.requestCode('+79126000007'), 'NETWORK_ERROR', 0);
      expect(err.message).toContain('Could not reach');
    });

    it('uses the fetch it is given', async () => {
      const urls: string[] = [];
      const client = clientFor(t, {
        fetch: (input, init) => {
          urls.push(String(input));
          return fetch(input, init);
        },
      });
      await client.jwks();
      expect(urls).toEqual([`${t.url}/.well-known/jwks.json`]);
    });
  });

  describe('tokens', () => {
    it('refreshes an expired access token once, transparently, and hands out the new tokens', async () => {
      const seen: (Tokens | null)[] = [];
      const client = await loggedIn('+79126000101', { onTokens: (tk) => void seen.push(tk) });
      const before = client.getTokens()!;
      t.clock.advance(16 * 60_000);
      // Concurrent calls that all see the expired token share a single refresh; two refreshes with
      // the same token would be a reuse and end the session.
      const [a, b] = await Promise.all([client.getProfile(), client.getProfile()]);
      expect(a.phone_number).toBe('+79126000101');
      expect(b.phone_number).toBe('+79126000101');
      const after = client.getTokens()!;
      expect(after.accessToken).not.toBe(before.accessToken);
      expect(after.refreshToken).not.toBe(before.refreshToken);
      expect(seen).toHaveLength(2);
      expect(seen[1]).toEqual(after);
      // The old refresh token is spent: presenting it again is a reuse.
      const thief = clientFor(t, { tokens: before });
      await expectCode(thief.refresh(), 'REFRESH_TOKEN_REUSED', 401);
      // …which ended the session, so the legitimate client is now refused without refresh.
      await expectCode(client.getProfile(), 'SESSION_REVOKED', 401);
    });

    it('rotates tokens with refresh() and forgets them when the refresh token is invalid', async () => {
      const client = await loggedIn('+79126000102');
      const before = client.getTokens()!;
      const rotated = await client.refresh();
      expect(rotated.refresh_token).not.toBe(before.refreshToken);
      expect(rotated.user_created).toBe(false);

      const seen: (Tokens | null)[] = [];
      const bogus = clientFor(t, { tokens: { accessToken: 'x', refreshToken: 'not-a-token' }, onTokens: (tk) => void seen.push(tk) });
      await expectCode(bogus.refresh(), 'REFRESH_TOKEN_INVALID', 401);
      expect(bogus.getTokens()).toBeNull();
      expect(seen).toEqual([null]);
    });

    it('gives up with the refresh error when an expired access token cannot be refreshed', async () => {
      const client = await loggedIn('+79126000103');
      const stale = client.getTokens()!;
      await client.refresh();
      const old = clientFor(t, { tokens: { accessToken: client.getTokens()!.accessToken, refreshToken: 'unknown' } });
      t.clock.advance(16 * 60_000);
      await expectCode(old.getProfile(), 'REFRESH_TOKEN_INVALID', 401);
      expect(old.getTokens()).toBeNull();
      expect(stale).not.toEqual(client.getTokens());
    });

    it('answers UNAUTHORIZED without tokens, and SESSION_REVOKED after logout', async () => {
      await expectCode(clientFor(t).getProfile(), 'UNAUTHORIZED', 401);

      const client = await loggedIn('+79126000104');
      const copy = clientFor(t, { tokens: client.getTokens() });
      await client.logout();
      expect(client.getTokens()).toBeNull();
      await expectCode(copy.getProfile(), 'SESSION_REVOKED', 401);
    });

    it('logout({ all: true }) ends every session of the user', async () => {
      const one = await loggedIn('+79126000105');
      const two = await loggedIn('+79126000105');
      await two.logout({ all: true });
      await expectCode(one.getProfile(), 'SESSION_REVOKED', 401);
    });
  });

  describe('invites', () => {
    it('activates codes and lists every invitee across pages', async () => {
      const owner = await loggedIn('+79126000201');
      const { invite_code } = await owner.getProfile();
      const phones = ['+79126000202', '+79126000203', '+79126000204'];
      for (const phone of phones) {
        const invitee = await loggedIn(phone);
        const res = await invitee.activateInviteCode(` ${invite_code.toLowerCase()} `);
        expect(res).toEqual({
          message: "The other user's invite code was successfully activated in the user's profile.",
          other_profile_invite_code: invite_code,
        });
      }
      const all = await collect(owner.invitedUsers({ pageSize: 2 }));
      expect(all.map((u) => u.phone_number)).toEqual(phones);
      const page = await owner.invitedUsersPage({ limit: 2 });
      expect(page.items).toHaveLength(2);
      expect(page.next_cursor).toEqual(expect.any(String));
      await expectCode(owner.invitedUsersPage({ cursor: 'garbage' }), 'VALIDATION_FAILED', 400);
    });

    it('throws INVITE_CODE_NOT_FOUND, _OWN, _ALREADY_ACTIVATED and _CYCLE', async () => {
      const a = await loggedIn('+79126000211');
      const b = await loggedIn('+79126000212');
      const c = await loggedIn('+79126000213');
      const codeOf = async (cl: PhoneAuthClient) => (await cl.getProfile()).invite_code;
      const [ca, cb] = [await codeOf(a), await codeOf(b)];
      await expectCode(a.activateInviteCode('ZZZZZZ'), 'INVITE_CODE_NOT_FOUND', 404);
      await expectCode(a.activateInviteCode(ca), 'INVITE_CODE_OWN', 422);
      await b.activateInviteCode(ca); // a invited b
      await expectCode(b.activateInviteCode(await codeOf(c)), 'INVITE_CODE_ALREADY_ACTIVATED', 409);
      await expectCode(a.activateInviteCode(cb), 'INVITE_CODE_CYCLE', 422);
    });
  });

  describe('admin', () => {
    it('lists users newest first across pages and by phone prefix', async () => {
      for (const phone of ['+79126000301', '+79126000302', '+79126000303']) {
        await loggedIn(phone);
        t.clock.advance(1000);
      }
      const page = await admin.admin.listUsers({ limit: 2, phonePrefix: '+7912600030' });
      expect(page.items.map((u) => u.phone_number)).toEqual(['+79126000303', '+79126000302']);
      expect(page.items[0]).toMatchObject({ invite_code: expect.any(String), blocked_at: null, invited_by: null, invited_users_count: 0 });
      const rest = await admin.admin.listUsers({ limit: 2, phonePrefix: '7912600030', cursor: page.next_cursor! });
      expect(rest.items.map((u) => u.phone_number)).toEqual(['+79126000301']);
      expect(rest.next_cursor).toBeNull();
      const all = await collect(admin.admin.users({ pageSize: 1, phonePrefix: '+7912600030' }));
      expect(all.map((u) => u.phone_number)).toEqual(['+79126000303', '+79126000302', '+79126000301']);
      await expectCode(admin.admin.listUsers({ cursor: 'nope' }), 'VALIDATION_FAILED', 400);
    });

    it('shows one user with sessions and inviter, by any phone format', async () => {
      const inviter = await loggedIn('+79126000311');
      const user = await loggedIn('+79126000312');
      await user.activateInviteCode((await inviter.getProfile()).invite_code);
      const shown = await admin.admin.getUser('8 (912) 600-03-12');
      expect(shown).toMatchObject({
        phone_number: '+79126000312',
        invited_by: '+79126000311',
        inviter: { phone_number: '+79126000311', invite_code: (await inviter.getProfile()).invite_code },
      });
      expect(shown.sessions).toEqual([expect.objectContaining({ active: true, revoked_at: null, ip: '127.0.0.1' })]);
      expect((await admin.admin.getUser('+79126000311')).invited_users_count).toBe(1);
      await expectCode(admin.admin.getUser('+79126000399'), 'USER_NOT_FOUND', 404);
      await expectCode(admin.admin.getUser('hello'), 'PHONE_NUMBER_INVALID', 422);
    });

    it('blocks a user: tokens refused at once, refresh and login refused; unblock lets them back', async () => {
      const user = await loggedIn('+79126000321');
      const tokens = user.getTokens()!;
      const blocked = await admin.admin.blockUser('+79126000321');
      expect(blocked.sessions_revoked).toBe(1);
      expect(blocked.user.blocked_at).toEqual(expect.any(String));
      await expectCode(user.getProfile(), 'SESSION_REVOKED', 401);
      await expectCode(clientFor(t, { tokens }).refresh(), 'REFRESH_TOKEN_INVALID', 401);
      t.clock.advance(61_000);
      const sent = await user.requestCode('+79126000321');
      await expectCode(user.verifyCode('+79126000321', sent.otp_code!), 'USER_BLOCKED', 403);
      expect((await admin.admin.getUser('+79126000321')).sessions.every((s) => !s.active && s.revoked_reason === 'blocked')).toBe(true);

      const unblocked = await admin.admin.unblockUser('+79126000321');
      expect(unblocked.user.blocked_at).toBeNull();
      const again = await loggedIn('+79126000321');
      expect((await again.getProfile()).phone_number).toBe('+79126000321');
      await expectCode(admin.admin.blockUser('+79126000398'), 'USER_NOT_FOUND', 404);
      await expectCode(admin.admin.unblockUser('+79126000398'), 'USER_NOT_FOUND', 404);
    });

    it('revokes every session of a user', async () => {
      const one = await loggedIn('+79126000331');
      const two = await loggedIn('+79126000331');
      const res = await admin.admin.revokeSessions('+79126000331');
      expect(res).toEqual({ phone_number: '+79126000331', sessions_revoked: 2 });
      await expectCode(one.getProfile(), 'SESSION_REVOKED', 401);
      await expectCode(two.getProfile(), 'SESSION_REVOKED', 401);
      expect((await admin.admin.revokeSessions('+79126000331')).sessions_revoked).toBe(0);
      await expectCode(admin.admin.revokeSessions('+79126000397'), 'USER_NOT_FOUND', 404);
    });

    it('reports stats: users, activations and top inviters', async () => {
      const before = await admin.admin.stats();
      const inviter = await loggedIn('+79126000341');
      const code = (await inviter.getProfile()).invite_code;
      for (const phone of ['+79126000342', '+79126000343']) await (await loggedIn(phone)).activateInviteCode(code);
      const after = await admin.admin.stats();
      expect(after.users_total).toBe(before.users_total + 3);
      expect(after.users_last_24h).toBe(before.users_last_24h + 3);
      expect(after.invite_activations_total).toBe(before.invite_activations_total + 2);
      expect(after.active_sessions).toBeGreaterThanOrEqual(3);
      expect(after.top_inviters).toContainEqual({ phone_number: '+79126000341', invite_code: code, invited_users_count: 2 });
      t.clock.advance(25 * 3600_000);
      const later = await admin.admin.stats();
      expect(later.users_last_24h).toBe(0);
      expect(later.users_total).toBe(after.users_total);
    });

    it('reads the audit log newest first, by phone and type, across pages', async () => {
      const user = await loggedIn('+79126000351');
      await user.refresh();
      await admin.admin.revokeSessions('+79126000351');
      const events = await collect(admin.admin.auditEvents({ phone: '8 912 600 03 51', pageSize: 2 }));
      const types = events.map((e) => e.type);
      expect(types.slice(0, 4)).toEqual(['sessions_revoked', 'token_refreshed', 'login', 'otp_verified']);
      expect(types).toContain('otp_requested');
      expect(events.every((e) => e.phone_number === '+79126000351')).toBe(true);
      expect(JSON.stringify(events)).not.toMatch(/otp_code|refresh_token|access_token/);
      const ids = events.map((e) => BigInt(e.id));
      expect([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))).toEqual(ids);

      const logins = await admin.admin.audit({ type: 'login', limit: 1 });
      expect(logins.items).toHaveLength(1);
      expect(logins.items[0]?.type).toBe('login');
      expect(logins.next_cursor).toEqual(expect.any(String));
      await expectCode(admin.admin.audit({ cursor: 'bad' }), 'VALIDATION_FAILED', 400);
    });

    it('refuses a wrong admin token with UNAUTHORIZED', async () => {
      const wrong = clientFor(t, { adminToken: `${ADMIN_TOKEN}x` });
      await expectCode(wrong.admin.stats(), 'UNAUTHORIZED', 401);
      await expectCode(clientFor(t).admin.listUsers(), 'UNAUTHORIZED', 401);
      // A user's access token is not an admin token.
      const user = await loggedIn('+79126000361');
      await expectCode(clientFor(t, { adminToken: user.getTokens()!.accessToken }).admin.stats(), 'UNAUTHORIZED', 401);
    });

    it('answers NOT_FOUND on every admin route when the server has no admin token', async () => {
      const client = clientFor(other, { adminToken: ADMIN_TOKEN });
      const calls = [
        client.admin.listUsers(),
        client.admin.getUser('+79126000371'),
        client.admin.blockUser('+79126000371'),
        client.admin.unblockUser('+79126000371'),
        client.admin.revokeSessions('+79126000371'),
        client.admin.stats(),
        client.admin.audit(),
      ];
      for (const call of calls) await expectCode(call, 'NOT_FOUND', 404);
    });
  });

  describe('createAccessTokenVerifier', () => {
    let service: FastifyInstance;
    let jwksFetches = 0;

    beforeAll(async () => {
      const verifier = createAccessTokenVerifier({
        baseUrl: t.url,
        issuer: 'phone-auth',
        audience: 'phone-auth',
        fetch: (input, init) => {
          jwksFetches++;
          return fetch(input, init);
        },
      });
      // A separate small service that trusts Phone Auth tokens without calling the API.
      service = Fastify();
      service.get('/orders', async (request, reply) => {
        const match = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
        try {
          const claims = await verifier.verify(match?.[1] ?? '');
          return { user: claims.sub, phone: claims.phone_number, session: claims.sid };
        } catch (err) {
          if (!isPhoneAuthError(err)) throw err;
          return reply.status(err.status).send({ error: { code: err.code, message: err.message } });
        }
      });
      await service.listen({ port: 0, host: '127.0.0.1' });
    });
    afterAll(async () => {
      await service?.close();
    });

    const orders = async (token?: string) => {
      const address = service.server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const res = await fetch(`http://127.0.0.1:${port}/orders`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      return { status: res.status, body: (await res.json()) as { user?: string; phone?: string; error?: { code: string } } };
    };

    it('lets a valid access token through with typed claims, fetching the keys once', async () => {
      const client = await loggedIn('+79126000401');
      const token = client.getTokens()!.accessToken;
      const first = await orders(token);
      expect(first).toEqual({ status: 200, body: { user: expect.stringMatching(/^[0-9a-f-]{36}$/), phone: '+79126000401', session: expect.any(String) } });
      const second = await orders(token);
      expect(second.status).toBe(200);
      expect(jwksFetches).toBe(1);
    });

    it('refuses missing, tampered, expired and wrong-audience tokens with 401', async () => {
      expect((await orders()).status).toBe(401);
      const client = await loggedIn('+79126000402');
      const token = client.getTokens()!.accessToken;
      const [h, p, s] = token.split('.');
      const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, phone_number: '+79990000000' })).toString('base64url')}.${s}`;
      const tampered = await orders(forged);
      expect(tampered).toEqual({ status: 401, body: { error: expect.objectContaining({ code: 'UNAUTHORIZED' }) } });

      // A token issued an hour ago (the server's clock set back) has expired in real time.
      const serverNow = t.clock.now();
      t.clock.set(Date.now() - 3600_000);
      const old = await loggedIn('+79126000403');
      t.clock.set(serverNow);
      expect((await orders(old.getTokens()!.accessToken)).status).toBe(401);

      const strict = createAccessTokenVerifier({ jwksUrl: `${t.url}/.well-known/jwks.json`, issuer: 'phone-auth', audience: 'billing' });
      await expectCode(strict.verify(token), 'UNAUTHORIZED', 401);
    });

    it('refetches the keys when a token names a kid it has not seen (key rotation)', async () => {
      // Two servers with different signing keys stand for the service before and after a key
      // rotation: the JWKS URL first serves the old server's keys, then the new one's.
      let source = other.url;
      let fetches = 0;
      const rotating = createAccessTokenVerifier({
        jwksUrl: 'http://auth.invalid/.well-known/jwks.json',
        issuer: 'phone-auth',
        audience: 'phone-auth',
        refetchCooldown: 0,
        fetch: (_input, init) => {
          fetches++;
          return fetch(`${source}/.well-known/jwks.json`, init);
        },
      });
      const before = createPhoneAuthClient({ baseUrl: other.url });
      other.clock.advance(61_000);
      const sent = await before.requestCode('+79126000405');
      await before.verifyCode('+79126000405', sent.otp_code!);
      expect((await rotating.verify(before.getTokens()!.accessToken)).phone_number).toBe('+79126000405');
      expect(fetches).toBe(1);

      source = t.url;
      const after = await loggedIn('+79126000406');
      expect((await rotating.verify(after.getTokens()!.accessToken)).phone_number).toBe('+79126000406');
      expect(fetches).toBe(2);
      await rotating.verify(after.getTokens()!.accessToken);
      expect(fetches).toBe(2);
    });

    it('reports SERVICE_UNAVAILABLE when the keys cannot be fetched', async () => {
      const client = await loggedIn('+79126000404');
      const unreachable = createAccessTokenVerifier({ baseUrl: 'http://127.0.0.1:1', issuer: 'phone-auth', audience: 'phone-auth' });
      await expectCode(unreachable.verify(client.getTokens()!.accessToken), 'SERVICE_UNAVAILABLE', 503);
    });

    it('reports SERVICE_UNAVAILABLE, not UNAUTHORIZED, when the JWKS answers an error status or not JSON', async () => {
      const token = (await loggedIn('+79126000407')).getTokens()!.accessToken;
      // What a load balancer in front of the API answers while it is being deployed.
      for (const answer of [
        () => new Response('<html>502 Bad Gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } }),
        () => new Response('{"error":"unavailable"}', { status: 503, headers: { 'content-type': 'application/json' } }),
        () => new Response('<html>maintenance</html>', { status: 200, headers: { 'content-type': 'text/html' } }),
      ]) {
        const verifier = createAccessTokenVerifier({
          jwksUrl: 'http://auth.invalid/.well-known/jwks.json',
          issuer: 'phone-auth',
          audience: 'phone-auth',
          fetch: async () => answer(),
        });
        await expectCode(verifier.verify(token), 'SERVICE_UNAVAILABLE', 503);
      }
      // The same token with reachable keys is fine: the 503s above were about the keys only.
      const healthy = createAccessTokenVerifier({ baseUrl: t.url, issuer: 'phone-auth', audience: 'phone-auth' });
      expect((await healthy.verify(token)).phone_number).toBe('+79126000407');
    });
  });
});

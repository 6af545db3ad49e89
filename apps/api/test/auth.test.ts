import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';
import { whileSessionInsertsFail } from './support/faults.js';

describe.each(backends)('auth on $name', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(backend);
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('POST /auth/', () => {
    it('sends a code and returns it with the console provider (the original behaviour)', async () => {
      const res = await t.request('POST', '/auth/', { body: { phone_number: '89123450001' } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ otp_code: expect.stringMatching(/^[0-9]{4}$/), expires_in: 300, retry_after: 60 });
      expect(t.sms.lastCode('+79123450001')).toBe(res.body.otp_code);
    });

    it.each(['+7 (912) 345-00-02', '8 912 345 00 02', '+79123450002', '89123450002'])(
      'accepts the human format %s and normalises it to E.164',
      async (input) => {
        t.clock.advance(61_000);
        const res = await t.request('POST', '/auth/', { body: { phone_number: input } });
        expect(res.status).toBe(200);
        expect(t.sms.sent.at(-1)?.to).toBe('+79123450002');
      },
    );

    it('answers the same for registered and unknown phones', async () => {
      await t.login('+79123450003');
      t.clock.advance(61_000);
      const known = await t.request('POST', '/auth/', { body: { phone_number: '+79123450003' } });
      const unknown = await t.request('POST', '/auth/', { body: { phone_number: '+79123450004' } });
      expect(known.status).toBe(200);
      expect(unknown.status).toBe(200);
      expect(Object.keys(known.body).sort()).toEqual(Object.keys(unknown.body).sort());
    });

    it.each([
      ['not a number', 'hello'],
      ['too short', '123'],
      ['impossible', '+7 000 000 00 00'],
      ['premium rate', '+7 809 505 12 34'],
      ['toll free', '+7 800 555 35 35'],
      ['unicode digits', '+７９１２３４５６７８９'],
      ['SQL-looking', "'; drop table users; --"],
    ])('refuses a phone that is %s with PHONE_NUMBER_INVALID 422', async (_label, phone) => {
      const res = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('PHONE_NUMBER_INVALID');
    });

    it.each([
      ['missing phone', {}],
      ['phone of the wrong type', { phone_number: 79123456789 }],
      ['empty phone', { phone_number: '' }],
      ['overlong phone', { phone_number: '1'.repeat(100) }],
    ])('refuses %s with VALIDATION_FAILED 400 naming the field', async (_label, body) => {
      const res = await t.request('POST', '/auth/', { body });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.fields.map((f: { path: string }) => f.path)).toContain('body.phone_number');
    });

    it('refuses a second request within the cooldown with OTP_RESEND_TOO_SOON, retry_after and Retry-After', async () => {
      const first = await t.request('POST', '/auth/', { body: { phone_number: '+79123450005' } });
      expect(first.status).toBe(200);
      t.clock.advance(20_000);
      const second = await t.request('POST', '/auth/', { body: { phone_number: '+79123450005' } });
      expect(second.status).toBe(429);
      expect(second.body.error.code).toBe('OTP_RESEND_TOO_SOON');
      expect(second.body.error.retry_after).toBe(40);
      expect(second.headers.get('retry-after')).toBe('40');
      t.clock.advance(40_000);
      const third = await t.request('POST', '/auth/', { body: { phone_number: '+79123450005' } });
      expect(third.status).toBe(200);
    });

    it('replaces the previous code with a new request', async () => {
      const phone = '+79123450006';
      const first = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      t.clock.advance(60_000);
      const second = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      if (first.body.otp_code !== second.body.otp_code) {
        const old = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: first.body.otp_code } });
        expect(old.status).toBe(401);
        expect(old.body.error.code).toBe('OTP_INVALID');
      }
      const fresh = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: second.body.otp_code } });
      expect(fresh.status).toBe(200);
    });

    it('caps sends per phone per day with RATE_LIMITED, and the cap resets the next day', async () => {
      const phone = '+79123450007';
      for (let i = 0; i < 10; i++) {
        const res = await t.request('POST', '/auth/', { body: { phone_number: phone } });
        expect(res.status).toBe(200);
        t.clock.advance(60_000);
      }
      const over = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(over.status).toBe(429);
      expect(over.body.error.code).toBe('RATE_LIMITED');
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
      t.clock.advance(24 * 3600_000);
      const nextDay = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(nextDay.status).toBe(200);
    });

    it('answers SMS_DELIVERY_FAILED 502 when the provider fails, and discards the code', async () => {
      const phone = '+79123450008';
      t.sms.failNext();
      const failed = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(failed.status).toBe(502);
      expect(failed.body.error.code).toBe('SMS_DELIVERY_FAILED');
      expect(failed.body.otp_code).toBeUndefined();
      // Nothing was delivered, so no code works and the user may retry at once.
      const guess = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: '0000' } });
      expect(guess.body.error.code).toBe('OTP_INVALID');
      const retry = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(retry.status).toBe(200);
    });
  });

  describe('PUT /auth/', () => {
    it('creates the user on the first verification and returns tokens', async () => {
      const phone = '+79123450101';
      const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      const res = await t.request('PUT', '/auth/', { body: { phone_number: '8 912 345-01-01', otp_code: sent.body.otp_code } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        token_type: 'Bearer',
        expires_in: 900,
        refresh_expires_in: 2_592_000,
        user_created: true,
      });
      expect(res.body.access_token.split('.')).toHaveLength(3);
      expect(res.body.refresh_token.length).toBeGreaterThanOrEqual(43);
      t.clock.advance(60_000);
      const again = await t.login(phone);
      expect(again.user_created).toBe(false);
    });

    it('accepts a code only once', async () => {
      const phone = '+79123450102';
      const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      const body = { phone_number: phone, otp_code: sent.body.otp_code };
      expect((await t.request('PUT', '/auth/', { body })).status).toBe(200);
      const replay = await t.request('PUT', '/auth/', { body });
      expect(replay.status).toBe(401);
      expect(replay.body.error.code).toBe('OTP_INVALID');
    });

    it('gives one answer, OTP_INVALID, for wrong, expired and never-requested codes', async () => {
      const never = await t.request('PUT', '/auth/', { body: { phone_number: '+79123450103', otp_code: '1234' } });
      const phone = '+79123450104';
      const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      const wrongCode = sent.body.otp_code === '0000' ? '1111' : '0000';
      const wrong = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: wrongCode } });
      t.clock.advance(301_000);
      const expired = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: sent.body.otp_code } });
      for (const res of [never, wrong, expired]) {
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('OTP_INVALID');
        expect(res.body.error.message).toBe(never.body.error.message);
      }
    });

    it('burns the code after 5 wrong attempts with OTP_TOO_MANY_ATTEMPTS', async () => {
      const phone = '+79123450105';
      const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      const wrongCode = sent.body.otp_code === '0000' ? '1111' : '0000';
      const codes: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: wrongCode } });
        codes.push(res.body.error.code);
      }
      expect(codes).toEqual(['OTP_INVALID', 'OTP_INVALID', 'OTP_INVALID', 'OTP_INVALID', 'OTP_TOO_MANY_ATTEMPTS']);
      const right = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: sent.body.otp_code } });
      expect(right.status).toBe(401);
      expect(right.body.error.code).toBe('OTP_INVALID');
    });

    it('keeps a per-phone failure budget across resends (10 per hour → RATE_LIMITED), reset after the window', async () => {
      const phone = '+79123450106';
      let failures = 0;
      let last;
      for (let round = 0; round < 3 && failures < 10; round++) {
        const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
        const wrongCode = sent.body.otp_code === '0000' ? '1111' : '0000';
        for (let i = 0; i < 4 && failures < 10; i++) {
          last = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: wrongCode } });
          expect(last.body.error.code).toBe('OTP_INVALID');
          failures++;
        }
        t.clock.advance(60_000);
      }
      const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      const blocked = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: sent.body.otp_code } });
      expect(blocked.status).toBe(429);
      expect(blocked.body.error.code).toBe('RATE_LIMITED');
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      t.clock.advance(3600_000);
      const again = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      const ok = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: again.body.otp_code } });
      expect(ok.status).toBe(200);
    });

    it.each([
      ['missing code', { phone_number: '+79123450107' }],
      ['code with letters', { phone_number: '+79123450107', otp_code: '12a4' }],
      ['code as a number', { phone_number: '+79123450107', otp_code: 1234 }],
      ['missing phone', { otp_code: '1234' }],
    ])('refuses %s with VALIDATION_FAILED', async (_label, body) => {
      const res = await t.request('PUT', '/auth/', { body });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    });

    it('refuses an invalid phone with PHONE_NUMBER_INVALID', async () => {
      const res = await t.request('PUT', '/auth/', { body: { phone_number: '12', otp_code: '1234' } });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('PHONE_NUMBER_INVALID');
    });

    it('refuses a blocked user with USER_BLOCKED 403', async () => {
      const phone = '+79123450108';
      await t.login(phone);
      await t.deps.database.db.updateTable('users').set({ blocked_at: new Date() }).where('phone_number', '=', phone).execute();
      t.clock.advance(61_000);
      const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      const res = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: sent.body.otp_code } });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('USER_BLOCKED');
      // A refusal is the answer to that code: no new one before the cooldown.
      const resend = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(resend.status).toBe(429);
      expect(resend.body.error.code).toBe('OTP_RESEND_TOO_SOON');
    });

    it('after a database failure spends the code, lets the phone ask for a new one at once', async () => {
      const phone = '+79123450109';
      const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      // Postgres refuses the login's session insert the way a server going away does (57P03,
      // cannot_connect_now), on both backends: the code is checked and spent in the OTP store
      // first, then the login's statement fails.
      const failed = await whileSessionInsertsFail(t, { message: 'the database system is starting up', sqlstate: '57P03' }, () =>
        t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: sent.body.otp_code } }));
      expect(failed.status).toBe(503);
      expect(failed.body.error.code).toBe('SERVICE_UNAVAILABLE');
      expect(await t.deps.database.db.selectFrom('users').select('id').where('phone_number', '=', phone).execute()).toEqual([]);

      // The code was spent by the failed login: it does not work again, even with the database back.
      const spent = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: sent.body.otp_code } });
      expect(spent.status).toBe(401);
      expect(spent.body.error.code).toBe('OTP_INVALID');
      // No clock advance: without the cooldown lifted this would be 429 OTP_RESEND_TOO_SOON.
      const again = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(again.status).toBe(200);
      expect(again.body.retry_after).toBe(60);
      const ok = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: again.body.otp_code } });
      expect(ok.status).toBe(200);
      expect(ok.body.user_created).toBe(true);
      // The new code's cooldown is a normal one again.
      expect((await t.request('POST', '/auth/', { body: { phone_number: phone } })).status).toBe(429);
    });

    it('after a failure that is not an outage (500), keeps the resend cooldown', async () => {
      const phone = '+79123450110';
      const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      const failed = await whileSessionInsertsFail(t, { message: 'a bug in a trigger' }, () =>
        t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: sent.body.otp_code } }));
      expect(failed.status).toBe(500);
      const resend = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(resend.status).toBe(429);
      expect(resend.body.error.code).toBe('OTP_RESEND_TOO_SOON');
    });
  });

  describe('access tokens', () => {
    it('are EdDSA JWTs with kid and the documented claims, verifiable with the JWKS', async () => {
      const { access_token } = await t.login('+79123450201');
      const [headerB64, payloadB64] = access_token.split('.');
      const header = JSON.parse(Buffer.from(headerB64!, 'base64url').toString());
      const payload = JSON.parse(Buffer.from(payloadB64!, 'base64url').toString());
      expect(header).toMatchObject({ alg: 'EdDSA', kid: expect.any(String) });
      expect(payload).toMatchObject({
        sub: expect.stringMatching(/^[0-9a-f-]{36}$/),
        sid: expect.stringMatching(/^[0-9a-f-]{36}$/),
        phone_number: '+79123450201',
        iss: 'phone-auth',
        aud: 'phone-auth',
      });
      expect(payload.exp - payload.iat).toBe(900);
      const jwks = await t.request('GET', '/.well-known/jwks.json');
      expect(jwks.status).toBe(200);
      expect(jwks.body.keys).toEqual([expect.objectContaining({ kid: header.kid, alg: 'EdDSA', kty: 'OKP', crv: 'Ed25519' })]);
      expect(jwks.body.keys[0].d).toBeUndefined();
      const { createLocalJWKSet, jwtVerify } = await import('jose');
      const verified = await jwtVerify(access_token, createLocalJWKSet(jwks.body), {
        issuer: 'phone-auth',
        audience: 'phone-auth',
        currentDate: new Date(t.clock.now()),
      });
      expect(verified.payload.sub).toBe(payload.sub);
    });

    it('expire after 15 minutes', async () => {
      const { access_token } = await t.login('+79123450202');
      expect((await t.request('GET', '/profile/', { token: access_token })).status).toBe(200);
      t.clock.advance(901_000 + 5_000);
      const res = await t.request('GET', '/profile/', { token: access_token });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHORIZED');
    });
  });
});

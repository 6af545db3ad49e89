import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './support/backends.js';
import { startApp, type HttpResult, type TestApp } from './support/app.js';

/**
 * Every abuse limit trips at its configured number and resets after its window, with the injected
 * clock (no sleeps). TRUST_PROXY lets each test speak from its own client IP (X-Forwarded-For), so
 * per-IP counters of one test do not leak into another.
 */
describe.each(backends)('abuse limits on $name', (backend) => {
  let t: TestApp;
  let lastIp = 0;
  const newIp = () => {
    lastIp += 1;
    return `10.1.${lastIp >> 8}.${lastIp & 255}`;
  };

  beforeAll(async () => {
    t = await startApp(backend, {
      env: {
        TRUST_PROXY: 'true',
        RATE_LIMIT_WINDOW_SECONDS: '60',
        RATE_LIMIT_REQUEST_CODE_PER_IP: '3',
        RATE_LIMIT_VERIFY_CODE_PER_IP: '3',
        RATE_LIMIT_REFRESH_PER_IP: '3',
        OTP_RESEND_SECONDS: '30',
        OTP_MAX_SENDS_PER_PHONE_PER_DAY: '3',
        OTP_MAX_FAILURES_PER_PHONE: '3',
        OTP_FAILURE_WINDOW_SECONDS: '600',
        INVITE_MAX_FAILURES: '3',
        INVITE_FAILURE_WINDOW_SECONDS: '600',
        OTP_TEST_NUMBERS: '+79990000000:4321,+79990000001:5678',
        SMS_ALLOWED_COUNTRIES: 'RU',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A request from `ip` (a fresh address unless given). */
  const req = (method: string, path: string, body: unknown, ip = newIp(), token?: string) =>
    t.request(method, path, { body, token, headers: { 'x-forwarded-for': ip } });
  const requestCode = (phone: string, ip?: string) => req('POST', '/auth/', { phone_number: phone }, ip);
  const verify = (phone: string, code: string, ip?: string) => req('PUT', '/auth/', { phone_number: phone, otp_code: code }, ip);
  const wrong = (code: string) => (code === '0000' ? '1111' : '0000');
  async function login(phone: string) {
    const sent = await requestCode(phone);
    expect(sent.status).toBe(200);
    const res = await verify(phone, sent.body.otp_code);
    expect(res.status).toBe(200);
    return res.body as { access_token: string; refresh_token: string };
  }
  function expectLimited(res: HttpResult, retryAfter?: number) {
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('RATE_LIMITED');
    const seconds = Number(res.headers.get('retry-after'));
    expect(res.body.error.retry_after).toBe(seconds);
    if (retryAfter !== undefined) expect(seconds).toBe(retryAfter);
    else expect(seconds).toBeGreaterThan(0);
  }

  describe('per-IP limits', () => {
    it('POST /auth/: 3 per IP per minute, refused numbers count too; other IPs unaffected; resets after the window', async () => {
      const ip = newIp();
      expect((await requestCode('+79123480001', ip)).status).toBe(200);
      expect((await requestCode('+79123480002', ip)).status).toBe(200);
      expect((await requestCode('12', ip)).status).toBe(422);
      expectLimited(await requestCode('+79123480003', ip), 60);
      expect((await requestCode('+79123480003')).status).toBe(200);
      t.clock.advance(59_000);
      expectLimited(await requestCode('+79123480004', ip), 1);
      t.clock.advance(1_000);
      expect((await requestCode('+79123480004', ip)).status).toBe(200);
    });

    it('counts IPv6 clients by their /64: rotating addresses inside it does not reset the budget', async () => {
      const site = '2001:db8:4a1:7';
      expect((await requestCode('+79123480011', `${site}::1`)).status).toBe(200);
      expect((await requestCode('+79123480012', `${site}:dead:beef:0:2`)).status).toBe(200);
      expect((await requestCode('+79123480013', `${site}:ffff:ffff:ffff:ffff`)).status).toBe(200);
      expectLimited(await requestCode('+79123480014', `${site}:1234:5678:9abc:def0`), 60);
      // The next /64 is another client.
      expect((await requestCode('+79123480014', '2001:db8:4a1:8::1')).status).toBe(200);
    });

    it('PUT /auth/: 3 per IP per minute, then even a right code waits for the window', async () => {
      const ip = newIp();
      const phone = '+79123480101';
      const sent = await requestCode(phone);
      for (const p of ['+79123480102', '+79123480103', '+79123480104']) {
        expect((await verify(p, '1234', ip)).body.error.code).toBe('OTP_INVALID');
      }
      expectLimited(await verify(phone, sent.body.otp_code, ip), 60);
      t.clock.advance(60_000);
      expect((await verify(phone, sent.body.otp_code, ip)).status).toBe(200);
    });

    it('POST /auth/refresh: 3 per IP per minute, resets after the window', async () => {
      const { refresh_token } = await login('+79123480201');
      const ip = newIp();
      for (let i = 0; i < 3; i++) {
        const res = await req('POST', '/auth/refresh', { refresh_token: `unknown-${i}-${'x'.repeat(40)}` }, ip);
        expect(res.body.error.code).toBe('REFRESH_TOKEN_INVALID');
      }
      expectLimited(await req('POST', '/auth/refresh', { refresh_token }, ip), 60);
      t.clock.advance(30_000);
      expectLimited(await req('POST', '/auth/refresh', { refresh_token }, ip), 30);
      t.clock.advance(30_000);
      expect((await req('POST', '/auth/refresh', { refresh_token }, ip)).status).toBe(200);
    });
  });

  describe('per-phone limits', () => {
    it('resend cooldown: OTP_RESEND_SECONDS=30', async () => {
      const phone = '+79123480301';
      expect((await requestCode(phone)).status).toBe(200);
      t.clock.advance(10_000);
      const early = await requestCode(phone);
      expect(early.status).toBe(429);
      expect(early.body.error.code).toBe('OTP_RESEND_TOO_SOON');
      expect(early.body.error.retry_after).toBe(20);
      expect(early.headers.get('retry-after')).toBe('20');
      t.clock.advance(20_000);
      expect((await requestCode(phone)).status).toBe(200);
    });

    it('daily send cap: OTP_MAX_SENDS_PER_PHONE_PER_DAY=3, reset 24 h after the first send', async () => {
      const phone = '+79123480401';
      for (let i = 0; i < 3; i++) {
        expect((await requestCode(phone)).status).toBe(200);
        t.clock.advance(30_000);
      }
      const over = await requestCode(phone);
      expectLimited(over);
      expect(over.body.error.retry_after).toBeLessThanOrEqual(86_400 - 90);
      expect(over.body.error.retry_after).toBeGreaterThan(86_400 - 120);
      t.clock.advance(over.body.error.retry_after * 1000 - 2000);
      expectLimited(await requestCode(phone));
      t.clock.advance(2000);
      expect((await requestCode(phone)).status).toBe(200);
    });

    it('failure budget: OTP_MAX_FAILURES_PER_PHONE=3 per 10 min, across resends', async () => {
      const phone = '+79123480501';
      const first = await requestCode(phone);
      expect((await verify(phone, wrong(first.body.otp_code))).body.error.code).toBe('OTP_INVALID');
      expect((await verify(phone, wrong(first.body.otp_code))).body.error.code).toBe('OTP_INVALID');
      t.clock.advance(30_000);
      const second = await requestCode(phone);
      expect((await verify(phone, wrong(second.body.otp_code))).body.error.code).toBe('OTP_INVALID');
      // The budget is spent: even the right code is refused until the window ends.
      const refused = await verify(phone, second.body.otp_code);
      expectLimited(refused);
      expect(refused.body.error.retry_after).toBeLessThanOrEqual(600);
      t.clock.advance(600_000);
      const third = await requestCode(phone);
      expect((await verify(phone, third.body.otp_code)).status).toBe(200);
    });
  });

  describe('invite activations', () => {
    it('failed activations: INVITE_MAX_FAILURES=3 per 10 min, then even a valid code waits', async () => {
      const owner = await login('+79123480601');
      const profile = await t.request('GET', '/profile/', { token: owner.access_token });
      const code: string = profile.body.invite_code;
      const guesser = await login('+79123480602');
      const activate = (c: string) =>
        t.request('POST', '/profile/', { token: guesser.access_token, body: { other_profile_invite_code: c } });
      const guesses = ['ZZZZZZ', 'YYYYYY', 'XXXXXX'].filter((g) => g !== code);
      for (const g of guesses.slice(0, 3)) expect((await activate(g)).body.error.code).toBe('INVITE_CODE_NOT_FOUND');
      const limited = await activate(code);
      expectLimited(limited);
      expect(limited.body.error.retry_after).toBe(600);
      t.clock.advance(600_000);
      const ok = await activate(code);
      expect(ok.status).toBe(200);
      expect(ok.body.other_profile_invite_code).toBe(code);
    });
  });

  describe('OTP_TEST_NUMBERS', () => {
    it('uses the fixed code and sends no SMS', async () => {
      const sentBefore = t.sms.sent.length;
      const res = await requestCode('+79990000000');
      expect(res.status).toBe(200);
      expect(res.body.otp_code).toBe('4321');
      expect(t.sms.sent.length).toBe(sentBefore);
      const login = await verify('8 999 000 00 00', '4321');
      expect(login.status).toBe(200);
      expect(login.body.access_token).toEqual(expect.any(String));
    });

    it('still obeys the failure budget, so the fixed code cannot be brute-forced', async () => {
      const phone = '+79990000001';
      for (let i = 0; i < 3; i++) expect((await verify(phone, '0000')).body.error.code).toBe('OTP_INVALID');
      expectLimited(await verify(phone, '5678'));
      t.clock.advance(600_000);
      expect((await verify(phone, '5678')).status).toBe(200);
    });
  });

  describe('SMS_ALLOWED_COUNTRIES', () => {
    it.each([
      ['Kazakhstan (also +7)', '+7 701 123 45 67'],
      ['United Kingdom', '+44 7400 123456'],
    ])('refuses a number of %s with PHONE_COUNTRY_NOT_ALLOWED 422 and sends nothing', async (_label, phone) => {
      const sentBefore = t.sms.sent.length;
      const res = await requestCode(phone);
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('PHONE_COUNTRY_NOT_ALLOWED');
      expect(t.sms.sent.length).toBe(sentBefore);
      const put = await verify(phone, '1234');
      expect(put.status).toBe(422);
      expect(put.body.error.code).toBe('PHONE_COUNTRY_NOT_ALLOWED');
    });

    it('accepts numbers of an allowed country', async () => {
      expect((await requestCode('+7 912 348 07 01')).status).toBe(200);
    });
  });
});

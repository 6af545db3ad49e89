import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';

/**
 * Runs a full flow with every log level on and checks that no log line carries a secret: codes,
 * access and refresh tokens, Authorization headers, full phone numbers.
 */
const ADMIN = 'admin-token-for-the-log-test-0123456789';

describe.each(backends)('log redaction on $name', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    // 10-digit codes: a 4-digit one could occur by chance inside a timestamp or an id.
    t = await startApp(backend, { env: { LOG_LEVEL: 'trace', OTP_LENGTH: '10', ADMIN_API_TOKEN: ADMIN } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a full flow (request, verify, refresh, profile, invite, logout, failures) logs no secret', async () => {
    const phone = '+79123500001';
    const other = '+79123500002';
    const secrets: string[] = [];

    const sent = await t.request('POST', '/auth/', { body: { phone_number: '8 912 350-00-01' } });
    expect(sent.status).toBe(200);
    const code: string = sent.body.otp_code;
    expect(code).toMatch(/^[0-9]{10}$/);
    const wrongCode = code === '0000000000' ? '1111111111' : '0000000000';
    secrets.push(code);

    // Failures first: a wrong code, a malformed body, a bad token, an unknown refresh token.
    expect((await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: wrongCode } })).status).toBe(401);
    expect((await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: 'abc' } })).status).toBe(400);
    expect((await t.request('GET', '/profile/', { token: 'not.a.token' })).status).toBe(401);
    const unknownRefresh = 'u'.repeat(43);
    expect((await t.request('POST', '/auth/refresh', { body: { refresh_token: unknownRefresh } })).status).toBe(401);
    secrets.push(unknownRefresh);

    const login = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: code } });
    expect(login.status).toBe(200);
    secrets.push(login.body.access_token, login.body.refresh_token);

    const refreshed = await t.request('POST', '/auth/refresh', { body: { refresh_token: login.body.refresh_token } });
    expect(refreshed.status).toBe(200);
    secrets.push(refreshed.body.access_token, refreshed.body.refresh_token);
    const token: string = refreshed.body.access_token;

    const me = await t.request('GET', '/profile/', { token });
    expect(me.status).toBe(200);

    const sentOther = await t.request('POST', '/auth/', { body: { phone_number: other } });
    secrets.push(sentOther.body.otp_code);
    const loginOther = await t.request('PUT', '/auth/', { body: { phone_number: other, otp_code: sentOther.body.otp_code } });
    secrets.push(loginOther.body.access_token, loginOther.body.refresh_token);
    const otherProfile = await t.request('GET', '/profile/', { token: loginOther.body.access_token });

    expect((await t.request('POST', '/profile/', { token, body: { other_profile_invite_code: 'ZZZZZZ' } })).status).toBe(404);
    const activated = await t.request('POST', '/profile/', { token, body: { other_profile_invite_code: otherProfile.body.invite_code } });
    expect(activated.status).toBe(200);
    expect((await t.request('GET', '/profile/', { token: loginOther.body.access_token })).body.invited_users).toEqual([phone]);

    // Reuse of a spent refresh token, then logout, then the revoked token again.
    expect((await t.request('POST', '/auth/refresh', { body: { refresh_token: login.body.refresh_token } })).status).toBe(401);
    expect((await t.request('POST', '/auth/logout', { token: loginOther.body.access_token, body: { all: true } })).status).toBe(204);
    expect((await t.request('GET', '/profile/', { token: loginOther.body.access_token })).status).toBe(401);

    // Operators look users up by phone: in the path and in query strings (encoded or not).
    const encoded = encodeURIComponent(phone);
    expect((await t.request('GET', `/admin/users/${encoded}`, { token: ADMIN })).status).toBe(200);
    expect((await t.request('GET', `/admin/audit?phone=${encoded}`, { token: ADMIN })).status).toBe(200);
    expect((await t.request('GET', `/admin/audit?phone=${phone}`, { token: ADMIN })).status).not.toBe(500);
    expect(t.logs.some((l) => l.includes(`"url":"/admin/users/%2B7912*****01"`))).toBe(true);
    // ...also typed with spaces, dashes and brackets, as the CLI passes what the operator typed.
    // (The other user's phone, which no earlier request put in a URL, so only these can log it.)
    const formatted = ['/admin/users/%2B7%20912%20350-00-02', '/admin/audit?phone=8%20(912)%20350%2000%2002'];
    for (const path of formatted) expect((await t.request('GET', path, { token: ADMIN })).status).toBe(200);
    expect(t.logs.some((l) => l.includes(`"url":"/admin/users/%2B7912*****02"`))).toBe(true);
    expect(t.logs.some((l) => l.includes(`"url":"/admin/audit?phone=8912*****02"`))).toBe(true);
    for (const line of t.logs) for (const tail of ['350-00-02', '350%2000%2002']) expect(line).not.toContain(tail);

    // The flow was logged (requests and the service's own lines, with masked phones)...
    const logs = t.logs;
    expect(logs.some((l) => l.includes('"request completed"') && l.includes('"url":"/profile/"') && l.includes('"statusCode":200'))).toBe(true);
    expect(logs.some((l) => l.includes('"login"') && l.includes('+7912*****01'))).toBe(true);
    expect(logs.some((l) => l.includes('otp sent') && l.includes('+7912*****02'))).toBe(true);

    // ...and no line carries a secret, a full phone or an Authorization header.
    for (const line of logs) {
      for (const s of secrets) expect(line).not.toContain(s);
      for (const p of [phone, other]) {
        expect(line).not.toContain(p);
        expect(line).not.toContain(p.slice(2)); // the national number without +7
      }
      expect(line.toLowerCase()).not.toContain('bearer');
      expect(line.toLowerCase()).not.toContain('authorization');
      // Signatures alone (the third part of a JWT) must not leak either.
      for (const s of secrets.filter((x) => x.split('.').length === 3)) expect(line).not.toContain(s.split('.')[2]);
    }
  });
});

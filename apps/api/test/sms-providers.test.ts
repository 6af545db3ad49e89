import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { backends, type Backend } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';
import { hang, startFakeProvider, type FakeProvider, type ReceivedRequest } from './support/fake-http.js';

/** Starts a fake provider, then the API with a real SMS provider configured against its URL. */
async function startWithFakeProvider(
  backend: Backend,
  env: (url: string) => Record<string, string>,
): Promise<{ fake: FakeProvider; t: TestApp }> {
  const fake = await startFakeProvider();
  const t = await startApp(backend, { sms: 'configured', env: env(fake.url) });
  return { fake, t };
}

async function stopBoth(t: TestApp | undefined, fake: FakeProvider | undefined) {
  await t?.close();
  await fake?.close();
}

/** The Standard Webhooks headers of a received request, as `Webhook.verify` takes them. */
const signatureHeaders = (got: ReceivedRequest) => ({
  'webhook-id': String(got.headers['webhook-id']),
  'webhook-timestamp': String(got.headers['webhook-timestamp']),
  'webhook-signature': String(got.headers['webhook-signature']),
});

/**
 * The webhook and twilio providers against real local HTTP servers: what they send, how they
 * sign it, and what the client sees when the provider fails or hangs.
 */
describe.each(backends)('SMS providers on $name', (backend) => {
  describe('webhook (Standard Webhooks)', () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    let fake: FakeProvider;
    let t: TestApp;
    beforeAll(async () => {
      ({ fake, t } = await startWithFakeProvider(backend, (url) => ({
        SMS_PROVIDER: 'webhook',
        SMS_WEBHOOK_URL: `${url}/hooks/sms`,
        SMS_WEBHOOK_SECRET: secret,
        SMS_TIMEOUT_MS: '1500',
      })));
    });
    afterAll(() => stopBoth(t, fake));
    beforeEach(() => {
      fake.received.length = 0;
      fake.respond((_req, res) => res.writeHead(204).end());
    });

    const lastPayload = () => JSON.parse(fake.received.at(-1)!.body) as { type: string; data: { to: string; code: string; text: string } };

    it('POSTs a signed JSON message; the code reaches the user only through the provider', async () => {
      const phone = '+79123490001';
      const res = await t.request('POST', '/auth/', { body: { phone_number: '8 912 349-00-01' } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ expires_in: 300, retry_after: 60 });
      expect(res.text).not.toMatch(/otp_code/);

      expect(fake.received).toHaveLength(1);
      const got = fake.received[0]!;
      expect(got.method).toBe('POST');
      expect(got.url).toBe('/hooks/sms');
      expect(got.headers['content-type']).toBe('application/json');
      const payload = lastPayload();
      expect(payload).toMatchObject({ type: 'sms.otp', data: { to: phone, code: expect.stringMatching(/^[0-9]{4}$/) } });
      expect(payload.data.text).toContain(payload.data.code);

      // Verified with the Standard Webhooks reference library, as a receiver would.
      expect(got.headers['webhook-id']).toMatch(/^msg_/);
      expect(got.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      const verified = new Webhook(secret).verify(got.body, signatureHeaders(got));
      expect(verified).toEqual(payload);
      // A different secret does not verify (the signature really depends on the key).
      expect(() =>
        new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(got.body, signatureHeaders(got)),
      ).toThrow();

      const login = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: payload.data.code } });
      expect(login.status).toBe(200);
    });

    it('retries once on a 500, with the same webhook-id', async () => {
      let calls = 0;
      fake.respond((_req, res) => res.writeHead(++calls === 1 ? 500 : 200).end('{}'));
      const res = await t.request('POST', '/auth/', { body: { phone_number: '+79123490002' } });
      expect(res.status).toBe(200);
      expect(fake.received).toHaveLength(2);
      expect(fake.received[1]!.headers['webhook-id']).toBe(fake.received[0]!.headers['webhook-id']);
      const login = await t.request('PUT', '/auth/', { body: { phone_number: '+79123490002', otp_code: lastPayload().data.code } });
      expect(login.status).toBe(200);
    });

    it('answers SMS_DELIVERY_FAILED 502 when the provider keeps failing; the code is discarded and a retry may send at once', async () => {
      const phone = '+79123490003';
      fake.respond((_req, res) => res.writeHead(500).end('boom'));
      const failed = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(failed.status).toBe(502);
      expect(failed.body.error.code).toBe('SMS_DELIVERY_FAILED');
      expect(failed.text).not.toMatch(/otp_code/);
      expect(fake.received).toHaveLength(2);
      const lost = lastPayload().data.code;
      const guess = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: lost } });
      expect(guess.status).toBe(401);
      expect(guess.body.error.code).toBe('OTP_INVALID');

      fake.respond((_req, res) => res.writeHead(204).end());
      const retry = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(retry.status).toBe(200);
      const ok = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: lastPayload().data.code } });
      expect(ok.status).toBe(200);
    });

    it('retries once when the connection breaks (network error)', async () => {
      let calls = 0;
      fake.respond((_req, res) => {
        if (++calls === 1) res.socket?.destroy();
        else res.writeHead(204).end();
      });
      const res = await t.request('POST', '/auth/', { body: { phone_number: '+79123490006' } });
      expect(res.status).toBe(200);
      expect(fake.received).toHaveLength(2);
      const login = await t.request('PUT', '/auth/', { body: { phone_number: '+79123490006', otp_code: lastPayload().data.code } });
      expect(login.status).toBe(200);
    });

    it('does not retry a 4xx (the provider refused the message)', async () => {
      fake.respond((_req, res) => res.writeHead(400).end());
      const failed = await t.request('POST', '/auth/', { body: { phone_number: '+79123490004' } });
      expect(failed.status).toBe(502);
      expect(failed.body.error.code).toBe('SMS_DELIVERY_FAILED');
      expect(fake.received).toHaveLength(1);
    });

    it('gives up after SMS_TIMEOUT_MS when the provider hangs (no retry), and discards the code', async () => {
      const phone = '+79123490005';
      fake.respond(hang);
      const started = Date.now();
      const failed = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(failed.status).toBe(502);
      expect(failed.body.error.code).toBe('SMS_DELIVERY_FAILED');
      expect(fake.received).toHaveLength(1);
      const lost = lastPayload().data.code;
      expect((await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: lost } })).body.error.code).toBe('OTP_INVALID');
      fake.respond((_req, res) => res.writeHead(204).end());
      expect((await t.request('POST', '/auth/', { body: { phone_number: phone } })).status).toBe(200);
    });
  });

  describe('webhook with a raw secret and OTP_EXPOSE_IN_RESPONSE=true', () => {
    let fake: FakeProvider;
    let t: TestApp;
    beforeAll(async () => {
      ({ fake, t } = await startWithFakeProvider(backend, (url) => ({
        SMS_PROVIDER: 'webhook',
        SMS_WEBHOOK_URL: url,
        SMS_WEBHOOK_SECRET: 'a raw shared secret',
        OTP_EXPOSE_IN_RESPONSE: 'true',
      })));
    });
    afterAll(() => stopBoth(t, fake));

    it('signs with the raw secret bytes and returns the code when told to', async () => {
      const res = await t.request('POST', '/auth/', { body: { phone_number: '+79123490101' } });
      expect(res.status).toBe(200);
      const got = fake.received.at(-1)!;
      const payload = new Webhook('a raw shared secret', { format: 'raw' }).verify(got.body, signatureHeaders(got)) as { data: { code: string } };
      expect(res.body.otp_code).toBe(payload.data.code);
    });
  });

  describe('twilio (Messages REST API)', () => {
    let fake: FakeProvider;
    let t: TestApp;
    beforeAll(async () => {
      ({ fake, t } = await startWithFakeProvider(backend, (url) => ({
        SMS_PROVIDER: 'twilio',
        TWILIO_ACCOUNT_SID: 'AC0123456789abcdef',
        TWILIO_AUTH_TOKEN: 'twilio-secret-token',
        TWILIO_FROM: '+15005550006',
        TWILIO_API_URL: `${url}/`,
        SMS_TIMEOUT_MS: '1500',
      })));
    });
    afterAll(() => stopBoth(t, fake));
    beforeEach(() => {
      fake.received.length = 0;
      fake.respond((_req, res) => res.writeHead(201, { 'content-type': 'application/json' }).end('{"sid":"SM123","status":"queued"}'));
    });

    const lastForm = () => new URLSearchParams(fake.received.at(-1)!.body);
    const codeIn = (body: string | null) => /([0-9]{4})/.exec(body ?? '')?.[1] ?? '';

    it('POSTs To/From/Body form-encoded with basic auth; the code is not in the HTTP response', async () => {
      const phone = '+79123490201';
      const res = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ expires_in: 300, retry_after: 60 });

      expect(fake.received).toHaveLength(1);
      const got = fake.received[0]!;
      expect(got.method).toBe('POST');
      expect(got.url).toBe('/2010-04-01/Accounts/AC0123456789abcdef/Messages.json');
      expect(got.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(got.headers.authorization).toBe(`Basic ${Buffer.from('AC0123456789abcdef:twilio-secret-token').toString('base64')}`);
      const form = lastForm();
      expect(form.get('To')).toBe(phone);
      expect(form.get('From')).toBe('+15005550006');
      const code = codeIn(form.get('Body'));
      expect(code).toMatch(/^[0-9]{4}$/);

      const login = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: code } });
      expect(login.status).toBe(200);
    });

    it('answers SMS_DELIVERY_FAILED 502 on a 500 (after one retry) and discards the code', async () => {
      const phone = '+79123490202';
      fake.respond((_req, res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"code":20500,"message":"Internal"}'));
      const failed = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(failed.status).toBe(502);
      expect(failed.body.error.code).toBe('SMS_DELIVERY_FAILED');
      expect(fake.received).toHaveLength(2);
      const lost = codeIn(lastForm().get('Body'));
      expect((await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: lost } })).body.error.code).toBe('OTP_INVALID');
      fake.respond((_req, res) => res.writeHead(201).end('{}'));
      expect((await t.request('POST', '/auth/', { body: { phone_number: phone } })).status).toBe(200);
    });

    it('answers SMS_DELIVERY_FAILED 502 when Twilio does not answer in time', async () => {
      const phone = '+79123490203';
      fake.respond(hang);
      const failed = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(failed.status).toBe(502);
      expect(failed.body.error.code).toBe('SMS_DELIVERY_FAILED');
      expect(fake.received).toHaveLength(1);
      const lost = codeIn(lastForm().get('Body'));
      expect((await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: lost } })).body.error.code).toBe('OTP_INVALID');
    });

    it('logs the failure without the code, the full phone or the provider credentials', async () => {
      fake.respond((_req, res) => res.writeHead(503).end());
      const phone = '+79123490204';
      const failed = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(failed.status).toBe(502);
      const line = t.logs.find((l) => l.includes('sms delivery failed') && l.includes('+7912*****04'));
      expect(line).toBeDefined();
      expect(line).toContain('503');
      // A 4-digit code may occur by chance inside a timestamp; as a value or in the text it must not.
      const text = lastForm().get('Body') ?? '';
      const code = codeIn(text);
      for (const l of t.logs) {
        expect(l).not.toContain(phone);
        expect(l).not.toContain('twilio-secret-token');
        expect(l).not.toContain(text);
        expect(l).not.toContain(`"${code}"`);
      }
    });
  });
});

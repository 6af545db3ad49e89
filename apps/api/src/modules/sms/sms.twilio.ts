import { postWithRetry } from './sms.http.js';
import type { SmsSender } from './sms.sender.js';

/**
 * Twilio Messages REST API: form-encoded To/From/Body with HTTP basic auth (account SID and auth
 * token). `apiUrl` is TWILIO_API_URL, overridable so tests point it at a local fake.
 */
export function createTwilioSms(opts: {
  accountSid: string;
  authToken: string;
  from: string;
  apiUrl: string;
  timeoutMs: number;
}): SmsSender {
  const base = opts.apiUrl.replace(/\/+$/, '');
  const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(opts.accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${opts.accountSid}:${opts.authToken}`).toString('base64')}`;
  return {
    name: 'twilio',
    async send({ to, text }) {
      const body = new URLSearchParams({ To: to, From: opts.from, Body: text }).toString();
      await postWithRetry(url, opts.timeoutMs, () => ({
        headers: {
          authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          'user-agent': 'phone-auth-api',
        },
        body,
      }));
    },
  };
}

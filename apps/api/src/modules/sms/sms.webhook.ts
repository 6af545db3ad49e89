import { createHmac, randomUUID } from 'node:crypto';
import { postWithRetry } from './sms.http.js';
import type { SmsSender } from './sms.sender.js';

/**
 * The HMAC key of a Standard Webhooks secret: `whsec_<base64>` is decoded, anything else is used
 * as raw bytes (UTF-8).
 */
export function webhookKey(secret: string): Buffer {
  if (secret.startsWith('whsec_')) {
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    if (key.length === 0) throw new Error('SMS_WEBHOOK_SECRET: whsec_ secret has no key bytes');
    return key;
  }
  return Buffer.from(secret, 'utf8');
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` as the Standard Webhooks spec defines it. */
export function signWebhook(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/**
 * POSTs `{"type":"sms.otp","timestamp":…,"data":{"to","code","text"}}` to SMS_WEBHOOK_URL, signed
 * per the Standard Webhooks spec (webhook-id / webhook-timestamp / webhook-signature). A retry
 * keeps the same webhook-id, so the receiver can drop a duplicate delivery.
 */
export function createWebhookSms(opts: { url: string; secret: string; timeoutMs: number }): SmsSender {
  const key = webhookKey(opts.secret);
  return {
    name: 'webhook',
    async send({ to, code, text }) {
      const id = `msg_${randomUUID()}`;
      const body = JSON.stringify({ type: 'sms.otp', timestamp: new Date().toISOString(), data: { to, code, text } });
      await postWithRetry(opts.url, opts.timeoutMs, () => {
        // Timestamps are real time (the receiver checks them against its own clock).
        const timestamp = Math.floor(Date.now() / 1000);
        return {
          headers: {
            'content-type': 'application/json',
            'user-agent': 'phone-auth-api',
            'webhook-id': id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signWebhook(key, id, timestamp, body),
          },
          body,
        };
      });
    },
  };
}

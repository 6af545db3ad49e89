import type { Config } from '../../config.js';
import { createConsoleSms } from './sms.console.js';
import type { SmsSender } from './sms.sender.js';
import { createTwilioSms } from './sms.twilio.js';
import { createWebhookSms } from './sms.webhook.js';

/** The configured provider. config.ts guarantees each provider's settings are present. */
export function createSmsSender(config: Config['sms']): SmsSender {
  switch (config.provider) {
    case 'console':
      return createConsoleSms();
    case 'webhook':
      return createWebhookSms({
        url: required(config.webhookUrl, 'SMS_WEBHOOK_URL'),
        secret: required(config.webhookSecret, 'SMS_WEBHOOK_SECRET'),
        timeoutMs: config.timeoutMs,
      });
    case 'twilio':
      return createTwilioSms({
        accountSid: required(config.twilio.accountSid, 'TWILIO_ACCOUNT_SID'),
        authToken: required(config.twilio.authToken, 'TWILIO_AUTH_TOKEN'),
        from: required(config.twilio.from, 'TWILIO_FROM'),
        apiUrl: config.twilio.apiUrl,
        timeoutMs: config.timeoutMs,
      });
  }
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new Error(`${name} is required for SMS_PROVIDER`);
  return value;
}

import type { Config } from '../../config.js';
import { createConsoleSms } from './sms.console.js';
import type { SmsSender } from './sms.sender.js';

export function createSmsSender(config: Config['sms']): SmsSender {
  switch (config.provider) {
    case 'console':
      return createConsoleSms();
    case 'webhook':
    case 'twilio':
      throw new Error(`SMS_PROVIDER=${config.provider} is not implemented yet; use console`);
  }
}

import type { SmsMessage, SmsSender } from '../../src/modules/sms/sms.sender.js';

/** Captures sent messages; can be told to fail. */
export interface CapturingSms extends SmsSender {
  sent: SmsMessage[];
  failNext(error?: Error): void;
  /** The last code sent to this phone (E.164). */
  lastCode(to: string): string | undefined;
}

export function createCapturingSms(): CapturingSms {
  const sent: SmsMessage[] = [];
  let failure: Error | null = null;
  return {
    name: 'capture',
    sent,
    failNext(error = new Error('provider refused the message')) {
      failure = error;
    },
    lastCode(to) {
      return [...sent].reverse().find((m) => m.to === to)?.code;
    },
    async send(message) {
      if (failure) {
        const err = failure;
        failure = null;
        throw err;
      }
      sent.push(message);
    },
  };
}

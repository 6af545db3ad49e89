/** Delivers a one-time code. Implementations must not log the code except the console provider. */
export interface SmsSender {
  readonly name: string;
  /** Resolves when the provider accepted the message; rejects on failure or timeout. */
  send(message: SmsMessage): Promise<void>;
}

export interface SmsMessage {
  /** E.164 */
  to: string;
  code: string;
  text: string;
}

export class SmsDeliveryError extends Error {
  override name = 'SmsDeliveryError';
}

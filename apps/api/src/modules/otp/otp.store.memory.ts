import { constantTimeEqual } from '../../lib/secrets.js';
import type { CheckInput, CheckResult, IssueOtpInput, IssueOtpResult, OtpStore } from './otp.store.js';
import { windowCounter, type Window } from '../../store/memory-window.js';

interface CodeRecord {
  id: string;
  codeHash: string;
  attempts: number;
  expiresAt: number;
}

interface SendRecord extends Window {
  lastSentAt: number | null;
}

/**
 * In-process OTP store with the same semantics as the Redis one. Each method runs to completion
 * without awaiting, so on Node's single thread it is atomic. Single process only.
 */
export function createMemoryOtpStore(): OtpStore & { size(): number } {
  const codes = new Map<string, CodeRecord>();
  const sends = new Map<string, SendRecord>();
  const failures = new Map<string, Window>();
  let writes = 0;

  // Drop expired entries now and then so the maps do not grow without bound.
  function sweep(now: number) {
    if (++writes % 1000 !== 0) return;
    for (const [k, v] of codes) if (now >= v.expiresAt) codes.delete(k);
    for (const [k, v] of sends) if (now >= v.expiresAt) sends.delete(k);
    for (const [k, v] of failures) if (now >= v.expiresAt) failures.delete(k);
  }

  return {
    size: () => codes.size + sends.size + failures.size,

    async issue(input: IssueOtpInput): Promise<IssueOtpResult> {
      const { phone, now } = input;
      sweep(now);
      const send: SendRecord = { ...windowCounter(sends.get(phone), now, input.dayMs), lastSentAt: sends.get(phone)?.lastSentAt ?? null };
      if (send.lastSentAt !== null && now < send.lastSentAt + input.resendMs) {
        return { kind: 'resend_too_soon', retryAfterMs: send.lastSentAt + input.resendMs - now };
      }
      if (send.count >= input.dailyLimit) {
        return { kind: 'daily_limit', retryAfterMs: send.start + input.dayMs - now };
      }
      send.count += 1;
      send.lastSentAt = now;
      sends.set(phone, send);
      codes.set(phone, { id: input.id, codeHash: input.codeHash, attempts: 0, expiresAt: now + input.ttlMs });
      return { kind: 'issued' };
    },

    async check(input: CheckInput): Promise<CheckResult> {
      const { phone, now } = input;
      const fail = windowCounter(failures.get(phone), now, input.failureWindowMs);
      if (fail.count >= input.failureLimit) {
        return { kind: 'rate_limited', retryAfterMs: fail.start + input.failureWindowMs - now };
      }
      const rec = codes.get(phone);
      if (!rec || now >= rec.expiresAt) return { kind: 'none' };
      if (constantTimeEqual(input.codeHash, rec.codeHash)) {
        codes.delete(phone);
        return { kind: 'verified' };
      }
      fail.count += 1;
      failures.set(phone, fail);
      rec.attempts += 1;
      if (rec.attempts >= input.maxAttempts) {
        codes.delete(phone);
        return { kind: 'too_many' };
      }
      return { kind: 'invalid' };
    },

    async discard(phone: string, id: string): Promise<void> {
      if (codes.get(phone)?.id !== id) return;
      codes.delete(phone);
      const send = sends.get(phone);
      if (send) send.lastSentAt = null;
    },

    async liftCooldown(phone: string, sentBy: number): Promise<void> {
      const send = sends.get(phone);
      if (send && send.lastSentAt !== null && send.lastSentAt <= sentBy) send.lastSentAt = null;
    },
  };
}

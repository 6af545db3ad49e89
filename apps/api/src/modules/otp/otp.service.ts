import type { RequestCodeResponse } from '@phone-auth/contract';
import type { Clock } from '../../lib/clock.js';
import { AppError, retrySeconds } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { createNoopMetrics, type DomainMetrics } from '../../lib/metrics.js';
import { maskPhone, parsePhoneOrThrow, type PhoneRules } from '../../lib/phone.js';
import { constantTimeEqual, generateOtp, hashOtp, randomId } from '../../lib/secrets.js';
import type { AuditLog } from '../audit/audit.js';
import type { IpLimiter } from '../limits/ip-limits.js';
import { consumeOrThrow, type LimitsStore } from '../limits/limits.store.js';
import { SmsDeliveryError, type SmsSender } from '../sms/sms.sender.js';
import type { OtpStore } from './otp.store.js';

export interface OtpConfig {
  length: number;
  ttlSeconds: number;
  resendSeconds: number;
  maxAttempts: number;
  maxFailuresPerPhone: number;
  failureWindowSeconds: number;
  maxSendsPerPhonePerDay: number;
  testNumbers: ReadonlyMap<string, string>;
  exposeInResponse: boolean;
}

export interface RequestContext {
  ip: string;
  userAgent: string | null;
}

export interface OtpService {
  /** Parses the phone or throws PHONE_NUMBER_INVALID / PHONE_COUNTRY_NOT_ALLOWED. */
  parse(raw: string): string;
  requestCode(rawPhone: string, ctx: RequestContext): Promise<RequestCodeResponse>;
  /**
   * Checks and consumes the code; returns the phone in E.164 or throws. Failures are audited here;
   * the `otp_verified` row is the caller's, written in its own statement (login: one commit per login).
   */
  verifyCode(rawPhone: string, code: string, ctx: RequestContext): Promise<string>;
  /**
   * The login a verified code was for did not happen (its database step failed): the phone may
   * ask for a new code at once instead of waiting out the resend cooldown. `phone` is E.164, as
   * verifyCode returned it; `verifiedAt` the clock's time just after verifyCode (a code sent
   * after it keeps its cooldown). Best effort: a failure here is logged, not thrown.
   */
  loginFailedAfterVerify(phone: string, verifiedAt: number): Promise<void>;
}

const DAY_MS = 86_400_000;

/** Stored codes and the fixed codes of OTP_TEST_NUMBERS share one failure budget wording. */
const PHONE_FAILURES_MESSAGE = 'Too many failed codes for this phone; try again later.';

export function createOtpService(deps: {
  store: OtpStore;
  limits: LimitsStore;
  sms: SmsSender;
  audit: AuditLog;
  clock: Clock;
  log: Logger;
  secret: string;
  phoneRules: PhoneRules;
  config: OtpConfig;
  ipLimits: IpLimiter;
  smsTimeoutMs: number;
  metrics?: Pick<DomainMetrics, 'otpSent' | 'otpVerified' | 'otpFailed' | 'smsFailures'>;
}): OtpService {
  const { store, limits, sms, clock, log, secret, config, audit } = deps;
  const metrics = deps.metrics ?? createNoopMetrics();

  const parse = (raw: string): string => parsePhoneOrThrow(raw, deps.phoneRules);

  async function deliver(phone: string, code: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SmsDeliveryError(`timed out after ${deps.smsTimeoutMs} ms`)), deps.smsTimeoutMs);
    });
    try {
      await Promise.race([sms.send({ to: phone, code, text: `Your login code: ${code}` }), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Fixed codes of OTP_TEST_NUMBERS still obey a failure budget, so they cannot be brute-forced. */
  async function verifyTestNumber(phone: string, expected: string, code: string): Promise<string> {
    const key = `otp-test-fail:${phone}`;
    await consumeOrThrow(limits, key, {
      limit: config.maxFailuresPerPhone,
      windowMs: config.failureWindowSeconds * 1000,
      now: clock.now(),
      message: PHONE_FAILURES_MESSAGE,
    });
    if (!constantTimeEqual(code, expected)) throw new AppError('OTP_INVALID');
    await limits.refund(key);
    return phone;
  }

  return {
    parse,

    async requestCode(rawPhone, ctx) {
      // The IP is counted first: malformed and refused numbers cost a request too.
      await deps.ipLimits.check('request', ctx.ip);
      const phone = parse(rawPhone);

      const testCode = config.testNumbers.get(phone);
      if (testCode !== undefined) {
        await audit.record({ type: 'otp_requested', phone, ip: ctx.ip, details: { provider: 'test_number' } });
        return {
          ...(config.exposeInResponse ? { otp_code: testCode } : {}),
          expires_in: config.ttlSeconds,
          retry_after: 0,
        };
      }

      const code = generateOtp(config.length);
      const id = randomId();
      const issued = await store.issue({
        phone,
        id,
        codeHash: hashOtp(secret, phone, code),
        now: clock.now(),
        ttlMs: config.ttlSeconds * 1000,
        resendMs: config.resendSeconds * 1000,
        dailyLimit: config.maxSendsPerPhonePerDay,
        dayMs: DAY_MS,
      });
      if (issued.kind === 'resend_too_soon') {
        throw new AppError('OTP_RESEND_TOO_SOON', undefined, { retryAfterSeconds: retrySeconds(issued.retryAfterMs) });
      }
      if (issued.kind === 'daily_limit') {
        throw new AppError('RATE_LIMITED', 'Too many codes sent to this phone today; try again later.', {
          retryAfterSeconds: retrySeconds(issued.retryAfterMs),
        });
      }

      try {
        await deliver(phone, code);
      } catch (err) {
        // The code never reached the user: drop it (and the cooldown) so a retry can send anew.
        await store.discard(phone, id).catch(() => undefined);
        metrics.smsFailures.inc({ provider: sms.name });
        log.warn({ phone: maskPhone(phone), provider: sms.name, err: { message: (err as Error).message } }, 'sms delivery failed');
        throw new AppError('SMS_DELIVERY_FAILED');
      }
      log.info({ phone: maskPhone(phone), provider: sms.name }, 'otp sent');
      metrics.otpSent.inc();
      await audit.record({ type: 'otp_requested', phone, ip: ctx.ip, details: { provider: sms.name } });
      return {
        ...(config.exposeInResponse ? { otp_code: code } : {}),
        expires_in: config.ttlSeconds,
        retry_after: config.resendSeconds,
      };
    },

    async verifyCode(rawPhone, code, ctx) {
      await deps.ipLimits.check('verify', ctx.ip);
      const phone = parse(rawPhone);
      try {
        const verified = await check(phone, code);
        metrics.otpVerified.inc();
        return verified;
      } catch (err) {
        if (err instanceof AppError) {
          metrics.otpFailed.inc({ reason: err.code });
          await audit.record({ type: 'otp_failed', phone, ip: ctx.ip, details: { reason: err.code } });
        }
        throw err;
      }
    },

    async loginFailedAfterVerify(phone, verifiedAt) {
      // Fixed test codes have no cooldown.
      if (config.testNumbers.has(phone)) return;
      await store.liftCooldown(phone, verifiedAt).catch((err: unknown) => {
        log.warn({ phone: maskPhone(phone), err: { message: (err as Error).message } }, 'could not lift the resend cooldown after a failed login');
      });
    },
  };

  /** Checks the code against the store (or the fixed test code); returns the phone or throws. */
  async function check(phone: string, code: string): Promise<string> {
    const testCode = config.testNumbers.get(phone);
    if (testCode !== undefined) return verifyTestNumber(phone, testCode, code);

    const result = await store.check({
      phone,
      codeHash: hashOtp(secret, phone, code),
      now: clock.now(),
      maxAttempts: config.maxAttempts,
      failureLimit: config.maxFailuresPerPhone,
      failureWindowMs: config.failureWindowSeconds * 1000,
    });
    switch (result.kind) {
      case 'verified':
        return phone;
      case 'too_many':
        throw new AppError('OTP_TOO_MANY_ATTEMPTS');
      case 'rate_limited':
        throw new AppError('RATE_LIMITED', PHONE_FAILURES_MESSAGE, {
          retryAfterSeconds: retrySeconds(result.retryAfterMs),
        });
      case 'none':
      case 'invalid':
        throw new AppError('OTP_INVALID');
    }
  }
}

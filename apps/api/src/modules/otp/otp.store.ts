/**
 * Where one-time codes live: Redis (shared by every API replica) or an in-process map (single
 * process). Both implement exactly these semantics; every operation is atomic on its own, and the
 * service never reads-then-writes across two calls without a guard (the record `id`).
 *
 * Time comes from the caller (`now`), so limits and expiry can be tested with an injected clock.
 */
export interface OtpStore {
  /**
   * Stores a new code for the phone, replacing any previous one, unless the resend cooldown or the
   * daily send cap forbids it. Cooldown and cap are checked and updated in the same atomic step, so
   * concurrent requests cannot both pass.
   */
  issue(input: IssueOtpInput): Promise<IssueOtpResult>;

  /**
   * Checks a submitted code in one atomic step: refuses when the phone's failure budget is spent;
   * answers `none` when there is no live code; compares `codeHash` with the stored hash in
   * constant time. A match deletes the code (so of many concurrent correct submissions exactly one
   * gets `verified`); a mismatch uses an attempt and a unit of the failure budget, and the
   * attempt that uses the last one burns the code (`too_many`). Nothing is reserved across calls,
   * so concurrent checks are simply serialised: they can neither exceed the limits nor make a
   * correct code lose to wrong ones still in flight.
   */
  check(input: CheckInput): Promise<CheckResult>;

  /** Delivery failed: drops the code and the resend cooldown (the send still counts to the daily cap). */
  discard(phone: string, id: string): Promise<void>;

  /**
   * A verified code's login failed after the code was spent (the database went away): lifts the
   * resend cooldown so the phone can ask for a new code at once — only the cooldown of a send at
   * or before `sentBy` (the verification's time), so a newer code's cooldown stays. The send still
   * counted to the daily cap, and the spent code stays spent.
   */
  liftCooldown(phone: string, sentBy: number): Promise<void>;
}

export interface IssueOtpInput {
  phone: string;
  id: string;
  codeHash: string;
  now: number;
  ttlMs: number;
  resendMs: number;
  dailyLimit: number;
  dayMs: number;
}

export type IssueOtpResult =
  | { kind: 'issued' }
  | { kind: 'resend_too_soon'; retryAfterMs: number }
  | { kind: 'daily_limit'; retryAfterMs: number };

export interface CheckInput {
  phone: string;
  /** HMAC of the submitted code (hashOtp): the store never sees a code. */
  codeHash: string;
  now: number;
  maxAttempts: number;
  failureLimit: number;
  failureWindowMs: number;
}

export type CheckResult =
  | { kind: 'verified' }
  /** No code, or it expired (or was burnt or consumed already). */
  | { kind: 'none' }
  /** Wrong code; attempts remain. */
  | { kind: 'invalid' }
  /** Wrong code, and that was its last attempt: the code is gone. */
  | { kind: 'too_many' }
  | { kind: 'rate_limited'; retryAfterMs: number };

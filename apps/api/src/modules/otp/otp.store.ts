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
   * Starts checking a submitted code: refuses when the phone's failure budget is spent or the
   * code's attempts are used up; otherwise reserves one attempt (and one unit of the failure
   * budget) and returns the stored hash to compare against. Reserving before comparing means
   * concurrent guesses can never exceed the limits.
   */
  beginCheck(input: BeginCheckInput): Promise<BeginCheckResult>;

  /**
   * The code matched: deletes it if it is still the record `id` (compare-and-delete, so of many
   * concurrent correct submissions exactly one gets `true`) and gives back the failure-budget
   * unit reserved by beginCheck.
   */
  consume(phone: string, id: string): Promise<boolean>;

  /** The code did not match: burns it when this was its last attempt. */
  reject(phone: string, id: string, maxAttempts: number): Promise<'invalid' | 'too_many'>;

  /** Delivery failed: drops the code and the resend cooldown (the send still counts to the daily cap). */
  discard(phone: string, id: string): Promise<void>;
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

export interface BeginCheckInput {
  phone: string;
  now: number;
  maxAttempts: number;
  failureLimit: number;
  failureWindowMs: number;
}

export type BeginCheckResult =
  | { kind: 'none' }
  | { kind: 'too_many' }
  | { kind: 'rate_limited'; retryAfterMs: number }
  | { kind: 'candidate'; id: string; codeHash: string };

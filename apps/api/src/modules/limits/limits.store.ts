import { AppError, retrySeconds } from '../../lib/errors.js';

/**
 * Fixed-window counters shared by every API replica (Redis) or kept in process (embedded).
 * `consume` checks and counts in one atomic step; `refund` gives a unit back (used when a
 * reserved attempt turns out to be a success).
 */
export interface LimitsStore {
  consume(key: string, limit: number, windowMs: number, now: number): Promise<LimitResult>;
  refund(key: string): Promise<void>;
}

export type LimitResult = { allowed: true; remaining: number } | { allowed: false; retryAfterMs: number };

/**
 * Counts one unit of `key` against `limit` per window; when the window is full, throws
 * RATE_LIMITED with `message` and the wait (retry_after). The one place that turns a refused
 * window into the client's error, for the per-IP limits and the failure budgets alike.
 */
export async function consumeOrThrow(
  limits: LimitsStore,
  key: string,
  opts: { limit: number; windowMs: number; now: number; message: string },
): Promise<void> {
  const result = await limits.consume(key, opts.limit, opts.windowMs, opts.now);
  if (!result.allowed) {
    throw new AppError('RATE_LIMITED', opts.message, { retryAfterSeconds: retrySeconds(result.retryAfterMs) });
  }
}

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

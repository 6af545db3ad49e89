import { windowCounter, type Window } from '../../store/memory-window.js';
import type { LimitResult, LimitsStore } from './limits.store.js';

/** In-process fixed-window counters; atomic because nothing awaits inside an operation. */
export function createMemoryLimitsStore(): LimitsStore {
  const counters = new Map<string, Window>();
  let writes = 0;
  return {
    async consume(key, limit, windowMs, now): Promise<LimitResult> {
      if (++writes % 1000 === 0) {
        for (const [k, v] of counters) if (now >= v.expiresAt) counters.delete(k);
      }
      const w = windowCounter(counters.get(key), now, windowMs);
      if (w.count >= limit) return { allowed: false, retryAfterMs: w.start + windowMs - now };
      w.count += 1;
      counters.set(key, w);
      return { allowed: true, remaining: limit - w.count };
    },
    async refund(key) {
      const w = counters.get(key);
      if (w && w.count > 0) w.count -= 1;
    },
  };
}

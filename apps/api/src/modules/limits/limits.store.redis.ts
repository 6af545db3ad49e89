import type { Redis } from 'ioredis';
import type { LimitResult, LimitsStore } from './limits.store.js';

// Fixed window in one hash {c, w}; check and count in one atomic script.
const CONSUME = `
local now, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local f = redis.call('HMGET', KEYS[1], 'c', 'w')
local count, wstart = tonumber(f[1]) or 0, tonumber(f[2]) or now
if now >= wstart + window then count = 0; wstart = now end
if count >= limit then return {0, wstart + window - now} end
redis.call('HSET', KEYS[1], 'c', count + 1, 'w', wstart)
redis.call('PEXPIRE', KEYS[1], wstart + window - now + 60000)
return {1, limit - count - 1}
`;

const REFUND = `
local c = tonumber(redis.call('HGET', KEYS[1], 'c'))
if c and c > 0 then redis.call('HINCRBY', KEYS[1], 'c', -1) end
return 0
`;

interface LimitCommands {
  limitConsume(key: string, now: number, limit: number, windowMs: number): Promise<[number, number]>;
  limitRefund(key: string): Promise<number>;
}

export function createRedisLimitsStore(redis: Redis, prefix: string): LimitsStore {
  redis.defineCommand('limitConsume', { numberOfKeys: 1, lua: CONSUME });
  redis.defineCommand('limitRefund', { numberOfKeys: 1, lua: REFUND });
  const r = redis as Redis & LimitCommands;
  const keyOf = (key: string) => `${prefix}limit:{${key}}`;
  return {
    async consume(key, limit, windowMs, now): Promise<LimitResult> {
      const [allowed, n] = await r.limitConsume(keyOf(key), now, limit, windowMs);
      return allowed === 1 ? { allowed: true, remaining: Number(n) } : { allowed: false, retryAfterMs: Number(n) };
    },
    async refund(key) {
      await r.limitRefund(keyOf(key));
    },
  };
}

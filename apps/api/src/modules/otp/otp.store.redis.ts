import type { Redis } from 'ioredis';
import type { CheckInput, CheckResult, IssueOtpInput, IssueOtpResult, OtpStore } from './otp.store.js';

/*
 * Every operation is one Lua script, which Redis runs atomically. A phone's keys share the hash
 * tag `{<phone>}`, so they live in one slot and the scripts also run on Redis Cluster.
 *
 *   …:code  hash  id, h (HMAC of the code), a (attempts used), e (expires at, ms)
 *   …:send  hash  c (sends in window), w (window start), l (last send, ms)
 *   …:fail  hash  c (failed checks in window), w (window start)
 *
 * Times come from the application clock (ARGV), so tests can move time; key TTLs are only
 * garbage collection and always outlive the logical expiry.
 */

const ISSUE = `
local now, id, hash = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local ttl, resend, limit, day = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local s = redis.call('HMGET', KEYS[2], 'c', 'w', 'l')
local count, wstart, last = tonumber(s[1]) or 0, tonumber(s[2]) or now, tonumber(s[3])
if now >= wstart + day then count = 0; wstart = now end
if last and now < last + resend then return {'resend_too_soon', last + resend - now} end
if count >= limit then return {'daily_limit', wstart + day - now} end
redis.call('HSET', KEYS[2], 'c', count + 1, 'w', wstart, 'l', now)
redis.call('PEXPIRE', KEYS[2], math.max(wstart + day - now, resend) + 60000)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', id, 'h', hash, 'a', 0, 'e', now + ttl)
redis.call('PEXPIRE', KEYS[1], ttl + 60000)
return {'issued', 0}
`;

// ARGV[5] is the HMAC of the submitted code. The comparison runs over every byte whatever the
// first difference (Redis Lua has the bit library), so its time does not depend on the stored hash.
const CHECK = `
local now, maxAttempts, limit, window, given = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local f = redis.call('HMGET', KEYS[2], 'c', 'w')
local count, wstart = tonumber(f[1]) or 0, tonumber(f[2]) or now
if now >= wstart + window then count = 0; wstart = now end
if count >= limit then return {'rate_limited', wstart + window - now} end
local r = redis.call('HMGET', KEYS[1], 'h', 'a', 'e')
if not r[1] or now >= tonumber(r[3]) then return {'none'} end
local stored, diff = r[1], 0
if #stored ~= #given then diff = 1 end
for i = 1, #stored do
  diff = bit.bor(diff, bit.bxor(string.byte(stored, i), string.byte(given, i) or 0))
end
if diff == 0 then
  redis.call('DEL', KEYS[1])
  return {'verified'}
end
redis.call('HSET', KEYS[2], 'c', count + 1, 'w', wstart)
redis.call('PEXPIRE', KEYS[2], wstart + window - now + 60000)
local attempts = redis.call('HINCRBY', KEYS[1], 'a', 1)
if attempts >= maxAttempts then
  redis.call('DEL', KEYS[1])
  return {'too_many'}
end
return {'invalid'}
`;

const DISCARD = `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], 'l')
return 1
`;

// Lifts the cooldown of a send at or before ARGV[1] only: a code sent since keeps its own.
const LIFT_COOLDOWN = `
local last = tonumber(redis.call('HGET', KEYS[1], 'l'))
if not last or last > tonumber(ARGV[1]) then return 0 end
redis.call('HDEL', KEYS[1], 'l')
return 1
`;

type Reply = [string, ...(string | number)[]];

interface OtpCommands {
  otpIssue(code: string, send: string, ...args: (string | number)[]): Promise<Reply>;
  otpCheck(code: string, fail: string, ...args: (string | number)[]): Promise<Reply>;
  otpDiscard(code: string, send: string, id: string): Promise<number>;
  otpLiftCooldown(send: string, sentBy: number): Promise<number>;
}

export function createRedisOtpStore(redis: Redis, prefix: string): OtpStore {
  // defineCommand sends EVALSHA and falls back to EVAL when the script is not cached yet.
  redis.defineCommand('otpIssue', { numberOfKeys: 2, lua: ISSUE });
  redis.defineCommand('otpCheck', { numberOfKeys: 2, lua: CHECK });
  redis.defineCommand('otpDiscard', { numberOfKeys: 2, lua: DISCARD });
  redis.defineCommand('otpLiftCooldown', { numberOfKeys: 1, lua: LIFT_COOLDOWN });
  const r = redis as Redis & OtpCommands;
  const keys = (phone: string) => ({
    code: `${prefix}otp:{${phone}}:code`,
    send: `${prefix}otp:{${phone}}:send`,
    fail: `${prefix}otp:{${phone}}:fail`,
  });

  return {
    async issue(i: IssueOtpInput): Promise<IssueOtpResult> {
      const k = keys(i.phone);
      const [kind, ms] = await r.otpIssue(k.code, k.send, i.now, i.id, i.codeHash, i.ttlMs, i.resendMs, i.dailyLimit, i.dayMs);
      if (kind === 'resend_too_soon' || kind === 'daily_limit') return { kind, retryAfterMs: Number(ms) };
      return { kind: 'issued' };
    },

    async check(i: CheckInput): Promise<CheckResult> {
      const k = keys(i.phone);
      const [kind, ms] = await r.otpCheck(k.code, k.fail, i.now, i.maxAttempts, i.failureLimit, i.failureWindowMs, i.codeHash);
      switch (kind) {
        case 'rate_limited':
          return { kind, retryAfterMs: Number(ms) };
        case 'verified':
        case 'invalid':
        case 'too_many':
          return { kind };
        default:
          return { kind: 'none' };
      }
    },

    async discard(phone, id) {
      const k = keys(phone);
      await r.otpDiscard(k.code, k.send, id);
    },

    async liftCooldown(phone, sentBy) {
      // The send count and window stay.
      await r.otpLiftCooldown(keys(phone).send, sentBy);
    },
  };
}

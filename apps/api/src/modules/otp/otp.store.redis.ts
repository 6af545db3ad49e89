import type { Redis } from 'ioredis';
import type { BeginCheckInput, BeginCheckResult, IssueOtpInput, IssueOtpResult, OtpStore } from './otp.store.js';

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

const BEGIN_CHECK = `
local now, maxAttempts, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local f = redis.call('HMGET', KEYS[2], 'c', 'w')
local count, wstart = tonumber(f[1]) or 0, tonumber(f[2]) or now
if now >= wstart + window then count = 0; wstart = now end
if count >= limit then return {'rate_limited', wstart + window - now} end
local r = redis.call('HMGET', KEYS[1], 'id', 'h', 'a', 'e')
if not r[1] or now >= tonumber(r[4]) then return {'none'} end
-- Every attempt is reserved (some may still be in flight and correct): refuse, but leave the
-- record to them. The last reject() burns it; a correct one consumes it.
if tonumber(r[3]) >= maxAttempts then return {'too_many'} end
redis.call('HINCRBY', KEYS[1], 'a', 1)
-- Reserve a unit of the failure budget; consume() returns it if the code is right.
redis.call('HSET', KEYS[2], 'c', count + 1, 'w', wstart)
redis.call('PEXPIRE', KEYS[2], wstart + window - now + 60000)
return {'candidate', r[1], r[2]}
`;

const CONSUME = `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
local c = tonumber(redis.call('HGET', KEYS[2], 'c'))
if c and c > 0 then redis.call('HINCRBY', KEYS[2], 'c', -1) end
return 1
`;

const REJECT = `
local r = redis.call('HMGET', KEYS[1], 'id', 'a')
if r[1] ~= ARGV[1] then return 'invalid' end
if tonumber(r[2]) >= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 'too_many'
end
return 'invalid'
`;

const DISCARD = `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], 'l')
return 1
`;

type Reply = [string, ...(string | number)[]];

interface OtpCommands {
  otpIssue(code: string, send: string, ...args: (string | number)[]): Promise<Reply>;
  otpBeginCheck(code: string, fail: string, ...args: (string | number)[]): Promise<Reply>;
  otpConsume(code: string, fail: string, id: string): Promise<number>;
  otpReject(code: string, id: string, maxAttempts: number): Promise<string>;
  otpDiscard(code: string, send: string, id: string): Promise<number>;
}

export function createRedisOtpStore(redis: Redis, prefix: string): OtpStore {
  // defineCommand sends EVALSHA and falls back to EVAL when the script is not cached yet.
  redis.defineCommand('otpIssue', { numberOfKeys: 2, lua: ISSUE });
  redis.defineCommand('otpBeginCheck', { numberOfKeys: 2, lua: BEGIN_CHECK });
  redis.defineCommand('otpConsume', { numberOfKeys: 2, lua: CONSUME });
  redis.defineCommand('otpReject', { numberOfKeys: 1, lua: REJECT });
  redis.defineCommand('otpDiscard', { numberOfKeys: 2, lua: DISCARD });
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

    async beginCheck(i: BeginCheckInput): Promise<BeginCheckResult> {
      const k = keys(i.phone);
      const [kind, a, b] = await r.otpBeginCheck(k.code, k.fail, i.now, i.maxAttempts, i.failureLimit, i.failureWindowMs);
      switch (kind) {
        case 'rate_limited':
          return { kind, retryAfterMs: Number(a) };
        case 'candidate':
          return { kind, id: String(a), codeHash: String(b) };
        case 'too_many':
          return { kind };
        default:
          return { kind: 'none' };
      }
    },

    async consume(phone, id) {
      const k = keys(phone);
      return (await r.otpConsume(k.code, k.fail, id)) === 1;
    },

    async reject(phone, id, maxAttempts) {
      const result = await r.otpReject(keys(phone).code, id, maxAttempts);
      return result === 'too_many' ? 'too_many' : 'invalid';
    },

    async discard(phone, id) {
      const k = keys(phone);
      await r.otpDiscard(k.code, k.send, id);
    },
  };
}

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LimitsStore } from '../src/modules/limits/limits.store.js';
import { createMemoryLimitsStore } from '../src/modules/limits/limits.store.memory.js';
import { createRedisLimitsStore } from '../src/modules/limits/limits.store.redis.js';
import type { OtpStore } from '../src/modules/otp/otp.store.js';
import { createMemoryOtpStore } from '../src/modules/otp/otp.store.memory.js';
import { createRedisOtpStore } from '../src/modules/otp/otp.store.redis.js';
import { createMemoryDenylist, createRedisDenylist, type DenylistStore } from '../src/modules/sessions/denylist.store.js';

/**
 * The store semantics every backend must share, run against the in-process store and (when
 * TEST_REDIS_URL is set) against real Redis with the Lua scripts.
 */
interface StoreKit {
  name: string;
  otp: OtpStore;
  limits: LimitsStore;
  denylist: DenylistStore;
  close(): Promise<void>;
}

const kits: Array<() => Promise<StoreKit>> = [
  async () => ({
    name: 'memory',
    otp: createMemoryOtpStore(),
    limits: createMemoryLimitsStore(),
    denylist: createMemoryDenylist(),
    close: async () => undefined,
  }),
];
const redisUrl = process.env.TEST_REDIS_URL;
if (redisUrl) {
  kits.push(async () => {
    const redis = new Redis(redisUrl, { lazyConnect: true });
    await redis.connect();
    const prefix = `test:${randomBytes(6).toString('hex')}:`;
    return {
      name: 'redis',
      otp: createRedisOtpStore(redis, prefix),
      limits: createRedisLimitsStore(redis, prefix),
      denylist: createRedisDenylist(redis, prefix),
      close: async () => {
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length) await redis.del(...keys);
        redis.disconnect();
      },
    };
  });
}

const T0 = 1_800_000_000_000;
const issueInput = (phone: string, id: string, now: number, codeHash = `hash-${id}`) => ({
  phone,
  id,
  codeHash,
  now,
  ttlMs: 300_000,
  resendMs: 60_000,
  dailyLimit: 3,
  dayMs: 86_400_000,
});
/** A check of the code whose hash is `hash-<id>` (issueInput's default). */
const checkInput = (phone: string, now: number, codeHash = 'hash-a') => ({
  phone,
  codeHash,
  now,
  maxAttempts: 3,
  failureLimit: 5,
  failureWindowMs: 3_600_000,
});

describe.each(kits.map((make, i) => ({ make, i })))('stores #$i', ({ make }) => {
  let kit: StoreKit;
  beforeAll(async () => {
    kit = await make();
  });
  afterAll(async () => {
    await kit?.close();
  });

  it('issues a code that a check with its hash verifies, once', async () => {
    const phone = '+70000000001';
    expect(await kit.otp.issue(issueInput(phone, 'a', T0))).toEqual({ kind: 'issued' });
    expect(await kit.otp.check(checkInput(phone, T0 + 1, 'hash-a'))).toEqual({ kind: 'verified' });
    expect(await kit.otp.check(checkInput(phone, T0 + 2, 'hash-a'))).toEqual({ kind: 'none' });
  });

  it('holds the resend cooldown, reporting the wait, and lets the next code replace the previous', async () => {
    const phone = '+70000000002';
    await kit.otp.issue(issueInput(phone, 'a', T0));
    expect(await kit.otp.issue(issueInput(phone, 'b', T0 + 20_000))).toEqual({ kind: 'resend_too_soon', retryAfterMs: 40_000 });
    expect(await kit.otp.issue(issueInput(phone, 'c', T0 + 60_000))).toEqual({ kind: 'issued' });
    // The replaced code no longer verifies; the new one does.
    expect(await kit.otp.check(checkInput(phone, T0 + 60_001, 'hash-a'))).toEqual({ kind: 'invalid' });
    expect(await kit.otp.check(checkInput(phone, T0 + 60_002, 'hash-c'))).toEqual({ kind: 'verified' });
  });

  it('caps sends per day and resets the cap after the day window', async () => {
    const phone = '+70000000003';
    for (let i = 0; i < 3; i++) expect((await kit.otp.issue(issueInput(phone, `x${i}`, T0 + i * 60_000))).kind).toBe('issued');
    const capped = await kit.otp.issue(issueInput(phone, 'x3', T0 + 3 * 60_000));
    expect(capped).toEqual({ kind: 'daily_limit', retryAfterMs: 86_400_000 - 3 * 60_000 });
    expect((await kit.otp.issue(issueInput(phone, 'x4', T0 + 86_400_000))).kind).toBe('issued');
  });

  it('treats an expired code as absent', async () => {
    const phone = '+70000000004';
    await kit.otp.issue(issueInput(phone, 'a', T0));
    expect(await kit.otp.check(checkInput(phone, T0 + 300_000, 'hash-a'))).toEqual({ kind: 'none' });
  });

  it('lets exactly one of many concurrent correct checks win', async () => {
    const phone = '+70000000005';
    await kit.otp.issue(issueInput(phone, 'a', T0));
    const results = await Promise.all(Array.from({ length: 50 }, () => kit.otp.check(checkInput(phone, T0 + 1, 'hash-a'))));
    expect(results.filter((r) => r.kind === 'verified')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'none')).toHaveLength(49);
  });

  it('refuses a hash that differs only in length or in its last character', async () => {
    const phone = '+70000000015';
    await kit.otp.issue(issueInput(phone, 'a', T0, 'abcdef'));
    expect(await kit.otp.check({ ...checkInput(phone, T0 + 1, 'abcde'), maxAttempts: 10 })).toEqual({ kind: 'invalid' });
    expect(await kit.otp.check({ ...checkInput(phone, T0 + 1, 'abcdefg'), maxAttempts: 10 })).toEqual({ kind: 'invalid' });
    expect(await kit.otp.check({ ...checkInput(phone, T0 + 1, 'abcdeg'), maxAttempts: 10 })).toEqual({ kind: 'invalid' });
    expect(await kit.otp.check({ ...checkInput(phone, T0 + 1, ''), maxAttempts: 10 })).toEqual({ kind: 'invalid' });
    expect(await kit.otp.check({ ...checkInput(phone, T0 + 1, 'abcdef'), maxAttempts: 10 })).toEqual({ kind: 'verified' });
  });

  it('never allows more wrong attempts than the limit, even concurrently, and burns the code at the last one', async () => {
    const phone = '+70000000006';
    await kit.otp.issue(issueInput(phone, 'a', T0));
    const checks = await Promise.all(Array.from({ length: 20 }, () => kit.otp.check(checkInput(phone, T0 + 1, 'wrong'))));
    expect(checks.filter((c) => c.kind === 'invalid')).toHaveLength(2);
    expect(checks.filter((c) => c.kind === 'too_many')).toHaveLength(1);
    expect(checks.filter((c) => c.kind === 'none')).toHaveLength(17);
    // Burnt: the right code is no use any more.
    expect(await kit.otp.check(checkInput(phone, T0 + 2, 'hash-a'))).toEqual({ kind: 'none' });
  });

  it('a correct check wins while wrong ones arrive around it, as long as attempts remain', async () => {
    const phone = '+70000000016';
    await kit.otp.issue(issueInput(phone, 'b', T0));
    const wrong = () => kit.otp.check({ ...checkInput(phone, T0 + 1, 'wrong'), maxAttempts: 5 });
    const results = await Promise.all([wrong(), wrong(), kit.otp.check({ ...checkInput(phone, T0 + 1, 'hash-b'), maxAttempts: 5 }), wrong(), wrong()]);
    expect(results.map((r) => r.kind)).toEqual(['invalid', 'invalid', 'verified', 'none', 'none']);
  });

  it('does not let an old code verify after a newer one replaced it', async () => {
    const phone = '+70000000007';
    await kit.otp.issue(issueInput(phone, 'old', T0));
    await kit.otp.issue(issueInput(phone, 'new', T0 + 60_000));
    expect(await kit.otp.check(checkInput(phone, T0 + 60_001, 'hash-old'))).toEqual({ kind: 'invalid' });
    expect(await kit.otp.check(checkInput(phone, T0 + 60_002, 'hash-new'))).toEqual({ kind: 'verified' });
  });

  it('keeps a failure budget across codes, which correct checks do not spend', async () => {
    const phone = '+70000000008';
    await kit.otp.issue({ ...issueInput(phone, 'ok', T0), dailyLimit: 100 });
    expect(await kit.otp.check(checkInput(phone, T0 + 1, 'hash-ok'))).toEqual({ kind: 'verified' });
    for (let i = 0; i < 5; i++) {
      await kit.otp.issue({ ...issueInput(phone, `c${i}`, T0 + (i + 1) * 60_000), dailyLimit: 100 });
      expect(await kit.otp.check(checkInput(phone, T0 + (i + 1) * 60_000 + 1, 'wrong'))).toEqual({ kind: 'invalid' });
    }
    await kit.otp.issue({ ...issueInput(phone, 'c5', T0 + 6 * 60_000), dailyLimit: 100 });
    // Five failures spent the budget: even the right code is refused until the window ends.
    const limited = await kit.otp.check(checkInput(phone, T0 + 6 * 60_000 + 1, 'hash-c5'));
    // The window began with the first failure (T0 + 60 001 ms).
    expect(limited).toEqual({ kind: 'rate_limited', retryAfterMs: 3_600_000 - 5 * 60_000 });
    // After the window the budget is whole again.
    await kit.otp.issue({ ...issueInput(phone, 'c7', T0 + 3_600_001 + 60_000), dailyLimit: 100 });
    expect(await kit.otp.check(checkInput(phone, T0 + 3_600_002 + 60_000, 'hash-c7'))).toEqual({ kind: 'verified' });
  });

  it('discards an undelivered code and its cooldown', async () => {
    const phone = '+70000000009';
    await kit.otp.issue(issueInput(phone, 'a', T0));
    await kit.otp.discard(phone, 'a');
    expect(await kit.otp.check(checkInput(phone, T0 + 1, 'hash-a'))).toEqual({ kind: 'none' });
    expect((await kit.otp.issue(issueInput(phone, 'b', T0 + 2))).kind).toBe('issued');
  });

  it('lifts the cooldown of a code sent by the given time, not of one sent after it, and keeps the daily cap', async () => {
    const phone = '+70000000010';
    await kit.otp.issue(issueInput(phone, 'a', T0));
    expect(await kit.otp.check(checkInput(phone, T0 + 1_000, 'hash-a'))).toEqual({ kind: 'verified' });
    // A failed login after that verification: the cooldown of code a goes.
    await kit.otp.liftCooldown(phone, T0 + 1_000);
    expect(await kit.otp.issue(issueInput(phone, 'b', T0 + 2_000))).toEqual({ kind: 'issued' });
    // A lift for a verification before code b was sent leaves b's cooldown alone.
    await kit.otp.liftCooldown(phone, T0 + 1_500);
    expect(await kit.otp.issue(issueInput(phone, 'c', T0 + 3_000))).toEqual({ kind: 'resend_too_soon', retryAfterMs: 59_000 });
    await kit.otp.liftCooldown(phone, T0 + 2_500);
    expect(await kit.otp.issue(issueInput(phone, 'c', T0 + 3_000))).toEqual({ kind: 'issued' });
    // Three sends today: the cap (3) holds, lifted cooldowns or not.
    await kit.otp.liftCooldown(phone, T0 + 3_500);
    expect((await kit.otp.issue(issueInput(phone, 'd', T0 + 4_000))).kind).toBe('daily_limit');
    // Nothing to lift for a phone that never got a code.
    await kit.otp.liftCooldown('+70000000011', T0);
    expect((await kit.otp.issue(issueInput('+70000000011', 'a', T0 + 1))).kind).toBe('issued');
  });

  it('counts fixed windows atomically, refunds, and resets after the window', async () => {
    const results = await Promise.all(Array.from({ length: 30 }, () => kit.limits.consume('k1', 10, 60_000, T0)));
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    expect(results.find((r) => !r.allowed)).toEqual({ allowed: false, retryAfterMs: 60_000 });
    await kit.limits.refund('k1');
    expect((await kit.limits.consume('k1', 10, 60_000, T0 + 1)).allowed).toBe(true);
    expect((await kit.limits.consume('k1', 10, 60_000, T0 + 2)).allowed).toBe(false);
    expect(await kit.limits.consume('k1', 10, 60_000, T0 + 60_000)).toEqual({ allowed: true, remaining: 9 });
  });

  it('denylists session ids for a time', async () => {
    await kit.denylist.add(['s1', 's2'], 60_000, T0);
    expect(await kit.denylist.has('s1', T0 + 1)).toBe(true);
    expect(await kit.denylist.has('s3', T0 + 1)).toBe(false);
  });
});

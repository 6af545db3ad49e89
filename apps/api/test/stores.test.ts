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
const checkInput = (phone: string, now: number) => ({
  phone,
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

  it('issues a code and hands its hash to a check, reserving an attempt', async () => {
    expect(await kit.otp.issue(issueInput('+70000000001', 'a', T0))).toEqual({ kind: 'issued' });
    expect(await kit.otp.beginCheck(checkInput('+70000000001', T0 + 1))).toEqual({ kind: 'candidate', id: 'a', codeHash: 'hash-a' });
  });

  it('holds the resend cooldown, reporting the wait, and lets the next code replace the previous', async () => {
    const phone = '+70000000002';
    await kit.otp.issue(issueInput(phone, 'a', T0));
    expect(await kit.otp.issue(issueInput(phone, 'b', T0 + 20_000))).toEqual({ kind: 'resend_too_soon', retryAfterMs: 40_000 });
    expect(await kit.otp.issue(issueInput(phone, 'c', T0 + 60_000))).toEqual({ kind: 'issued' });
    expect(await kit.otp.beginCheck(checkInput(phone, T0 + 60_001))).toMatchObject({ kind: 'candidate', id: 'c' });
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
    expect(await kit.otp.beginCheck(checkInput(phone, T0 + 300_000))).toEqual({ kind: 'none' });
  });

  it('lets exactly one of many concurrent consumers win', async () => {
    const phone = '+70000000005';
    await kit.otp.issue(issueInput(phone, 'a', T0));
    const results = await Promise.all(Array.from({ length: 50 }, () => kit.otp.consume(phone, 'a')));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await kit.otp.beginCheck(checkInput(phone, T0 + 1))).toEqual({ kind: 'none' });
  });

  it('never reserves more attempts than allowed, even concurrently, and burns the code at the last one', async () => {
    const phone = '+70000000006';
    await kit.otp.issue(issueInput(phone, 'a', T0));
    const checks = await Promise.all(Array.from({ length: 20 }, () => kit.otp.beginCheck(checkInput(phone, T0 + 1))));
    expect(checks.filter((c) => c.kind === 'candidate')).toHaveLength(3);
    // The rest are refused, but the record stays for the reserved checks still in flight (one of
    // them may be right); the next wrong answer burns it.
    expect(checks.filter((c) => c.kind === 'too_many')).toHaveLength(17);
    expect(await kit.otp.beginCheck(checkInput(phone, T0 + 2))).toEqual({ kind: 'too_many' });
    expect(await kit.otp.reject(phone, 'a', 3)).toBe('too_many');
    expect(await kit.otp.beginCheck(checkInput(phone, T0 + 3))).toEqual({ kind: 'none' });

    // One at a time: the wrong answer that uses the last attempt burns the code.
    const other = '+70000000016';
    await kit.otp.issue(issueInput(other, 'b', T0));
    for (let i = 0; i < 2; i++) {
      await kit.otp.beginCheck(checkInput(other, T0 + 1));
      expect(await kit.otp.reject(other, 'b', 3)).toBe('invalid');
    }
    await kit.otp.beginCheck(checkInput(other, T0 + 1));
    expect(await kit.otp.reject(other, 'b', 3)).toBe('too_many');
    expect(await kit.otp.beginCheck(checkInput(other, T0 + 2))).toEqual({ kind: 'none' });
  });

  it('does not let a stale check consume or burn a newer code', async () => {
    const phone = '+70000000007';
    await kit.otp.issue(issueInput(phone, 'old', T0));
    await kit.otp.issue(issueInput(phone, 'new', T0 + 60_000));
    expect(await kit.otp.consume(phone, 'old')).toBe(false);
    expect(await kit.otp.reject(phone, 'old', 0)).toBe('invalid');
    expect(await kit.otp.beginCheck(checkInput(phone, T0 + 60_001))).toMatchObject({ kind: 'candidate', id: 'new' });
  });

  it('keeps a failure budget across codes; a successful check gives its reservation back', async () => {
    const phone = '+70000000008';
    for (let i = 0; i < 5; i++) {
      await kit.otp.issue(issueInput(phone, `c${i}`, T0 + i * 60_000));
      const c = await kit.otp.beginCheck(checkInput(phone, T0 + i * 60_000 + 1));
      expect(c.kind).toBe('candidate');
      if (i === 0) expect(await kit.otp.consume(phone, 'c0')).toBe(true); // refunded
    }
    await kit.otp.issue({ ...issueInput(phone, 'c5', T0 + 5 * 60_000), dailyLimit: 100 });
    expect((await kit.otp.beginCheck(checkInput(phone, T0 + 5 * 60_000 + 1))).kind).toBe('candidate');
    await kit.otp.issue({ ...issueInput(phone, 'c6', T0 + 6 * 60_000), dailyLimit: 100 });
    const limited = await kit.otp.beginCheck(checkInput(phone, T0 + 6 * 60_000 + 1));
    expect(limited.kind).toBe('rate_limited');
    // After the window the budget is whole again.
    await kit.otp.issue({ ...issueInput(phone, 'c7', T0 + 3_600_001), dailyLimit: 100 });
    expect(await kit.otp.beginCheck(checkInput(phone, T0 + 3_600_002))).toMatchObject({ kind: 'candidate', id: 'c7' });
  });

  it('discards an undelivered code and its cooldown', async () => {
    const phone = '+70000000009';
    await kit.otp.issue(issueInput(phone, 'a', T0));
    await kit.otp.discard(phone, 'a');
    expect(await kit.otp.beginCheck(checkInput(phone, T0 + 1))).toEqual({ kind: 'none' });
    expect((await kit.otp.issue(issueInput(phone, 'b', T0 + 2))).kind).toBe('issued');
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

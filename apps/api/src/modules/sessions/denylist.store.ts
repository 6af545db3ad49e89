import type { Redis } from 'ioredis';

/**
 * Session ids whose access tokens must be refused before they expire (logout, reuse detection,
 * blocking). Kept in Redis (or in process) for as long as an access token can live, so an
 * authenticated route that does not read the sessions table anyway checks it with one key lookup.
 * (The profile reads check the sessions row in their own query instead: auth-hook.ts.)
 */
export interface DenylistStore {
  add(sessionIds: string[], ttlMs: number, now: number): Promise<void>;
  has(sessionId: string, now: number): Promise<boolean>;
}

export function createMemoryDenylist(): DenylistStore {
  const until = new Map<string, number>();
  let writes = 0;
  return {
    async add(ids, ttlMs, now) {
      if (++writes % 1000 === 0) for (const [k, t] of until) if (now >= t) until.delete(k);
      for (const id of ids) until.set(id, now + ttlMs);
    },
    async has(id, now) {
      const t = until.get(id);
      return t !== undefined && now < t;
    },
  };
}

export function createRedisDenylist(redis: Redis, prefix: string): DenylistStore {
  const key = (id: string) => `${prefix}deny:{${id}}`;
  return {
    async add(ids, ttlMs) {
      if (ids.length === 0) return;
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.set(key(id), '1', 'PX', ttlMs);
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err);
      if (failed?.[0]) throw failed[0];
    },
    async has(id) {
      return (await redis.exists(key(id))) === 1;
    },
  };
}

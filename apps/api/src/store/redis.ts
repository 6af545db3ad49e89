import { Redis } from 'ioredis';
import type { Logger } from '../lib/logger.js';

/**
 * One Redis connection per process. `enableOfflineQueue: false` makes commands fail at once
 * while Redis is unreachable (the API answers 503) instead of queueing until the client gives up;
 * ioredis keeps reconnecting in the background, so the service recovers by itself.
 */
export function createRedis(url: string, log: Logger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    lazyConnect: false,
    // Commands issued in the same event-loop tick (the denylist lookups and limit scripts of
    // concurrent requests) go out in one write: under load the socket writes, not Redis, were
    // the cost of a Redis round trip (bench: Performance). Each command still gets its own reply.
    enableAutoPipelining: true,
  });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) log.warn({ err: { message: err.message } }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info('redis connection restored');
    down = false;
  });
  return redis;
}

/** Waits until the client is connected, or gives up after `ms` (the app still starts). */
export async function waitForRedis(redis: Redis, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}

import { Redis } from 'ioredis';
import pg from 'pg';

/**
 * Removes what a test or soak run created on the shared real servers: its own Postgres schema
 * and every Redis key under its own prefix (SCAN + DEL, never a flush).
 */
export async function dropSchemaAndKeys(databaseUrl: string, schema: string, redisUrl: string, prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

import { randomBytes } from 'node:crypto';
import { dropSchemaAndKeys } from './cleanup.js';

/**
 * The storage backends every integration test runs against:
 * - `embedded`: in-memory PGlite + in-process store (always);
 * - `postgres+redis`: real servers, when TEST_DATABASE_URL and TEST_REDIS_URL are set. If they
 *   are set and unreachable the tests fail; nothing is skipped silently.
 *
 * Each `provision()` gets its own Postgres schema and Redis key prefix and removes them in
 * `cleanup()`, so test files run in parallel and leave nothing behind.
 */
export interface Backend {
  name: 'embedded' | 'postgres+redis';
  provision(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }>;
}

const testDatabaseUrl = process.env.TEST_DATABASE_URL;
const testRedisUrl = process.env.TEST_REDIS_URL;

if (Boolean(testDatabaseUrl) !== Boolean(testRedisUrl)) {
  throw new Error('Set both TEST_DATABASE_URL and TEST_REDIS_URL (or neither) to run the real-backend tests');
}

export const embedded: Backend = {
  name: 'embedded',
  async provision() {
    return { env: { DATABASE_URL: 'memory://' }, cleanup: async () => undefined };
  },
};

export const postgresRedis: Backend | null =
  testDatabaseUrl && testRedisUrl
    ? {
        name: 'postgres+redis',
        async provision() {
          const id = randomBytes(6).toString('hex');
          const schema = `t_${id}`;
          const prefix = `test:${id}:`;
          return {
            env: {
              DATABASE_URL: testDatabaseUrl,
              DATABASE_SCHEMA: schema,
              REDIS_URL: testRedisUrl,
              REDIS_KEY_PREFIX: prefix,
            },
            cleanup: () => dropSchemaAndKeys(testDatabaseUrl, schema, testRedisUrl, prefix),
          };
        },
      }
    : null;

/** Use with `describe.each(backends)`. */
export const backends: Backend[] = postgresRedis ? [embedded, postgresRedis] : [embedded];

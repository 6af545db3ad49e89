import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPhoneAuthClient } from '@phone-auth/client';
import { apiEnvironment, freePort, startNode, type Started } from '../src/processes.js';
import {
  analyze,
  createDatabase,
  deleteRedisPrefix,
  dropDatabase,
  freshPhoneOf,
  growTree,
  openDb,
  phoneOf,
  recountInvitees,
} from '../src/seed.js';
import { seedUsers } from '../src/seed-users.js';

/**
 * The bench against real Postgres and Redis (TEST_DATABASE_URL, TEST_REDIS_URL — CI sets both;
 * the bench is defined against them only, so without them these tests are skipped). Needs the
 * compiled API (turbo builds it before this package's tests).
 */
const { TEST_DATABASE_URL: DATABASE_URL, TEST_REDIS_URL: REDIS_URL } = process.env;
const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SERVER_JS = path.resolve(BENCH_DIR, '../apps/api/dist/server.js');

async function databaseExists(name: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    return (await c.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
  } finally {
    await c.end();
  }
}

async function redisKeys(pattern: string): Promise<string[]> {
  const redis = new Redis(REDIS_URL as string);
  try {
    return await redis.keys(pattern);
  } finally {
    redis.disconnect();
  }
}

/** Runs the bench's entry point as `pnpm bench` would, and says how it ended. */
function runBench(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', 'src/index.ts', ...args], { cwd: BENCH_DIR, timeout: timeoutMs }, (_err, stdout, stderr) =>
      resolve({ code: child.exitCode, stdout, stderr }));
  });
}

describe('pnpm bench on the command line', () => {
  it('refuses bad flags with a message, the usage and exit code 2, before creating anything', async () => {
    // The addresses point nowhere: a run that got as far as creating its database would fail differently.
    const result = await runBench(['--only', 'nope', '--database-url', 'postgres://nobody@127.0.0.1:1/none']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pnpm bench: --only: unknown scenario "nope"');
    expect(result.stderr).toContain('--quick');
    expect(result.stderr).not.toContain('creating database');
  });

  it('--help prints the usage and exits 0, whatever else is on the line', async () => {
    const result = await runBench(['--only', 'nope', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^pnpm bench \[options\]/);
  });
});

describe.skipIf(!DATABASE_URL || !REDIS_URL)('pnpm bench on real Postgres and Redis', () => {
  beforeAll(() => {
    if (!existsSync(SERVER_JS)) throw new Error(`${SERVER_JS} is missing: run pnpm build first`);
  });

  it('measures every endpoint and both baselines without a failed request, writes the results and leaves nothing behind', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-results-'));
    try {
      const args = ['--no-build', '--users', '200', '--duration', '1', '--warmup', '0', '--rounds', '1',
        '--connections', '8', '--label', 'harness test', '--results-dir', dir,
        '--database-url', DATABASE_URL as string, '--redis-url', REDIS_URL as string];
      const { code, stdout, stderr } = await runBench(args);
      // Whatever happened, the run's database goes (the bench drops it itself, even when stopped).
      const created = /creating database (bench_\d+)/.exec(stderr)?.[1];
      if (created && code !== 0) await dropDatabase(DATABASE_URL as string, created).catch(() => undefined);
      expect(code, stderr).toBe(0);

      const files = (await readdir(dir)).sort();
      expect(files).toHaveLength(2);
      expect(files[0]).toMatch(/^\d{4}-\d\d-\d\dT\d{6}Z\.json$/);
      expect(files[1]).toBe(files[0]?.replace('.json', '.md'));
      const results = JSON.parse(await readFile(path.join(dir, files[0] as string), 'utf8'));
      expect(results.meta).toMatchObject({ mode: 'full', label: 'harness test', rounds: 1, connections: 8, seededUsers: 200 });
      expect(results.endpoints.map((e: { name: string }) => e.name)).toEqual([
        'baseline: constant', 'baseline: one select', 'GET /profile/', 'GET /profile/invited-users',
        'POST /auth/', 'PUT /auth/', 'POST /auth/refresh', 'POST /profile/',
      ]);
      for (const e of results.endpoints) {
        // Every endpoint really ran, and answered every request with 2xx: a broken scenario (a
        // code that does not log in, a token that does not refresh) shows up here.
        expect(e.requests, e.name).toBeGreaterThan(0);
        expect({ name: e.name, errors: e.errors + e.timeouts, non2xx: e.non2xx }).toEqual({ name: e.name, errors: 0, non2xx: 0 });
        expect(Object.keys(e.statusCodes).every((c) => c.startsWith('2')), e.name).toBe(true);
      }
      expect(results.endpoints[1].vsSelect).toBe(1);
      expect(results.rounds).toHaveLength(8);
      expect(results.targets.map((t: { target: string }) => t.target)).toContain('0 errors and 0 non-2xx');
      expect(results.optimisations.length).toBeGreaterThan(0);
      expect(await readFile(path.join(dir, files[1] as string), 'utf8')).toBe(stdout.trimStart());

      const dbName = /dropping database (bench_\d+)/.exec(stderr)?.[1];
      expect(dbName).toBeDefined();
      expect(await databaseExists(dbName as string)).toBe(false);
      expect(await redisKeys(`${dbName?.replace('_', ':')}:*`)).toEqual([]);
      // …and it had written some (codes, limits): the check above is not vacuous.
      expect(Number(/deleted (\d+) redis keys/.exec(stderr)?.[1])).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 150_000);

  describe('the seeded users are what the API itself would have written', () => {
    const dbName = `bench_seed_test_${Date.now()}`;
    const prefix = `${dbName}:`;
    let api: Started;
    let work: string;

    beforeAll(async () => {
      work = await mkdtemp(path.join(os.tmpdir(), 'bench-seed-'));
      await createDatabase(DATABASE_URL as string, dbName);
      const url = new URL(DATABASE_URL as string);
      url.pathname = `/${dbName}`;
      const port = await freePort();
      api = await startNode({
        name: 'api',
        args: [SERVER_JS],
        env: apiEnvironment({ port, dataDir: path.join(work, 'data'), databaseUrl: url.toString(), redisUrl: REDIS_URL as string, redisKeyPrefix: prefix, pool: 4 }),
        port,
        readyPath: '/.well-known/jwks.json',
        logFile: path.join(work, 'api.log'),
        cwd: BENCH_DIR,
      });
      // Migrated by the API on start; then 1 000 users seeded the way the bench does it, and the
      // tree grown to 1 100 users with set-based SQL, as the users scale run grows it — over a
      // connection 14 hours ahead of UTC, so a seed time that depends on the session's time zone
      // would put the grown invitees out of order beside the seeded ones.
      const seedUrl = new URL(url);
      seedUrl.searchParams.set('options', '-c TimeZone=Pacific/Kiritimati');
      const db = openDb(seedUrl.toString());
      try {
        await seedUsers(db, 1000);
        await growTree(db, 1001, 1100, 1100);
        await recountInvitees(db, 100, 110, 1100);
        await analyze(db);
      } finally {
        await db.destroy();
      }
    });

    afterAll(async () => {
      await api?.stop();
      // Each step runs even when one before it failed.
      const results = await Promise.allSettled([
        dropDatabase(DATABASE_URL as string, dbName),
        deleteRedisPrefix(REDIS_URL as string, prefix),
        rm(work, { recursive: true, force: true }),
      ]);
      for (const r of results) if (r.status === 'rejected') throw r.reason;
    });

    /** A client of the API under test (the SDK), logged in as `phone`: codes come back in the response here. */
    const signedIn = async (phone: string) => {
      const client = createPhoneAuthClient({ baseUrl: api.url });
      const { otp_code } = await client.requestCode(phone);
      await client.verifyCode(phone, otp_code as string);
      return client;
    };

    it('seeded users log in and see their inviter, invitees, counts and activation times', async () => {
      const [five, fiftySeven, oneFifty] = await Promise.all([phoneOf(5), phoneOf(57), phoneOf(150)].map(signedIn));
      const p5 = await five!.getProfile();
      expect(p5).toMatchObject({
        phone_number: phoneOf(5),
        other_profile_invite_code: null, // users 1–9 are the roots of the tree
        invited_users: Array.from({ length: 10 }, (_, i) => phoneOf(50 + i)),
        invited_users_count: 10,
      });
      const p57 = await fiftySeven!.getProfile();
      expect(p57.other_profile_invite_code).toBe(p5.invite_code);
      expect(p57.invited_users).toEqual(Array.from({ length: 10 }, (_, i) => phoneOf(570 + i)));
      const p150 = await oneFifty!.getProfile();
      expect(p150).toMatchObject({ invited_users: [], invited_users_count: 0 }); // 1500… are past the 1 000 seeded
      expect(new Set([p5.invite_code, p57.invite_code, p150.invite_code]).size).toBe(3);
      for (const code of [p5.invite_code, p57.invite_code, p150.invite_code]) expect(code).toMatch(/^[2-9A-HJKMNP-Z]{6}$/);

      const page = await five!.invitedUsersPage({ limit: 3 });
      expect(page.items).toEqual([50, 51, 52].map((n) => ({ phone_number: phoneOf(n), activated_at: `2026-01-01T00:00:${n}.000Z` })));
    });

    it('users grown with set-based SQL hang under seeded inviters, who count them', async () => {
      const [hundred, thousandFive] = await Promise.all([phoneOf(100), phoneOf(1005)].map(signedIn));
      const p100 = await hundred!.getProfile();
      // 1000 was seeded through the repositories, 1001–1009 grown: one list, in activation order.
      expect(p100).toMatchObject({ invited_users: Array.from({ length: 10 }, (_, i) => phoneOf(1000 + i)), invited_users_count: 10 });
      expect(await thousandFive!.getProfile()).toMatchObject({ other_profile_invite_code: p100.invite_code, invited_users: [], invited_users_count: 0 });
      const p109 = await (await signedIn(phoneOf(109))).getProfile();
      expect(p109).toMatchObject({ invited_users: Array.from({ length: 10 }, (_, i) => phoneOf(1090 + i)), invited_users_count: 10 });
      const p110 = await (await signedIn(phoneOf(110))).getProfile();
      expect(p110).toMatchObject({ invited_users: [phoneOf(1100)], invited_users_count: 1 });
    });

    it('a new user activates a seeded code, and a seeded user refreshes and activates too', async () => {
      const [fresh, oneFifty, seven] = await Promise.all([freshPhoneOf(1), phoneOf(150), phoneOf(7)].map(signedIn));
      const p150 = await oneFifty!.getProfile();
      await expect(fresh!.activateInviteCode(p150.invite_code)).resolves.toBeDefined();
      expect(await oneFifty!.getProfile()).toMatchObject({ invited_users: [freshPhoneOf(1)], invited_users_count: 1 });

      // User 7 is a root (no inviter): it may still activate a code once — 150's, say.
      await expect(seven!.activateInviteCode(p150.invite_code)).resolves.toBeDefined();
      expect((await oneFifty!.getProfile()).invited_users_count).toBe(2);

      await expect(seven!.refresh()).resolves.toBeDefined();
    });
  });
});

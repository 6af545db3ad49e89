import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportPKCS8, generateKeyPair } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createDeps } from '../src/deps.js';
import { postgresRedis } from './support/backends.js';
import { concurrently, jwtPayload, tally } from './support/concurrency.js';
import { startApiProcess, type ApiProcess } from './support/processes.js';
import { startRedisAndPostgres } from './support/servers.js';

/**
 * Two API processes (the real server, `src/server.ts`) on one Postgres and one Redis, as two
 * replicas behind a load balancer. Runs on the shared servers when TEST_DATABASE_URL and
 * TEST_REDIS_URL are set (own schema and key prefix), else on throwaway servers it starts itself:
 * the embedded backend is single-process by design, so this suite always needs real servers.
 */

const REQUEST_CODE_PER_IP = 6;

interface Res {
  status: number;
  body: any;
}

describe('two API processes share one Postgres and one Redis', () => {
  let a: ApiProcess;
  let b: ApiProcess;
  let databaseUrl: string;
  let schema: string;
  let cleanup: () => Promise<void>;
  let dataDir: string;
  let ipSeq = 0;
  /** Each test speaks from its own client address (TRUST_PROXY), so per-IP limits do not leak between tests. */
  const freshIp = () => `10.0.${Math.floor(ipSeq / 250)}.${(ipSeq++ % 250) + 1}`;
  let phoneSeq = 0;
  const freshPhone = () => `+7916${String(phoneSeq++).padStart(7, '0')}`;

  beforeAll(async () => {
    let env: Record<string, string>;
    if (postgresRedis) {
      const provisioned = await postgresRedis.provision();
      env = provisioned.env;
      cleanup = provisioned.cleanup;
    } else {
      const { redis, postgres } = await startRedisAndPostgres();
      env = { DATABASE_URL: postgres.url, REDIS_URL: redis.url, DATABASE_SCHEMA: 'public', REDIS_KEY_PREFIX: 'pa:' };
      cleanup = async () => {
        await Promise.all([redis.destroy(), postgres.destroy()]);
      };
    }
    databaseUrl = env.DATABASE_URL!;
    schema = env.DATABASE_SCHEMA ?? 'public';
    dataDir = await mkdtemp(path.join(tmpdir(), 'phone-auth-replicas-'));
    // What every replica must share in production: the OTP secret and the signing key.
    const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    const shared = {
      ...env,
      OTP_SECRET: randomBytes(32).toString('base64url'),
      JWT_PRIVATE_KEY: await exportPKCS8(privateKey),
      TRUST_PROXY: 'true',
      RATE_LIMIT_REQUEST_CODE_PER_IP: String(REQUEST_CODE_PER_IP),
      LOG_LEVEL: 'warn',
    };
    // Both start at once on an empty schema: their migrations race too.
    const started = await Promise.allSettled([
      startApiProcess('A', { ...shared, DATA_DIR: path.join(dataDir, 'a') }),
      startApiProcess('B', { ...shared, DATA_DIR: path.join(dataDir, 'b') }),
    ]);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      // Do not leave the one that did start running.
      for (const s of started) if (s.status === 'fulfilled') await s.value.stop();
      throw failed.reason;
    }
    [a, b] = started.map((s) => (s as PromiseFulfilledResult<ApiProcess>).value) as [ApiProcess, ApiProcess];
  }, 90_000);

  afterAll(async () => {
    const started = Boolean(a && b);
    const codes = await Promise.all([a?.stop(), b?.stop()]);
    await cleanup?.();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    // Both shut down cleanly (SIGTERM → exit 0): neither crashed along the way.
    if (started) expect(codes).toEqual([0, 0]);
  });

  async function call(p: ApiProcess, method: string, route: string, o: { body?: unknown; token?: string; ip?: string } = {}): Promise<Res> {
    const headers: Record<string, string> = { 'x-forwarded-for': o.ip ?? freshIp() };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    const res = await fetch(p.url + route, {
      method,
      headers,
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  /** Requests the code on `first`, exchanges it on `second`. */
  async function login(first: ApiProcess, second: ApiProcess, phone = freshPhone()) {
    const sent = await call(first, 'POST', '/auth/', { body: { phone_number: phone } });
    expect(sent.status).toBe(200);
    const res = await call(second, 'PUT', '/auth/', { body: { phone_number: phone, otp_code: sent.body.otp_code } });
    expect(res.status).toBe(200);
    return { phone, ...res.body, sub: String(jwtPayload(res.body.access_token).sub) } as {
      phone: string;
      sub: string;
      access_token: string;
      refresh_token: string;
      user_created: boolean;
    };
  }

  async function withDb<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: databaseUrl, options: `-c search_path=${schema}` });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  it('a code issued by one process verifies on the other, once', async () => {
    const phone = freshPhone();
    const sent = await call(a, 'POST', '/auth/', { body: { phone_number: phone } });
    const body = { phone_number: phone, otp_code: sent.body.otp_code };
    const first = await call(b, 'PUT', '/auth/', { body });
    expect(first.status).toBe(200);
    expect(first.body.user_created).toBe(true);
    // Spent everywhere: neither process accepts it again.
    expect((await call(a, 'PUT', '/auth/', { body })).body.error.code).toBe('OTP_INVALID');
    expect((await call(b, 'PUT', '/auth/', { body })).body.error.code).toBe('OTP_INVALID');
    // Tokens from either process work on both (one signing key).
    expect((await call(a, 'GET', '/profile/', { token: first.body.access_token })).status).toBe(200);
    expect((await call(b, 'GET', '/profile/', { token: first.body.access_token })).status).toBe(200);
  });

  it('one code submitted 100 times to each process gives exactly one token pair', async () => {
    const phone = freshPhone();
    const sent = await call(a, 'POST', '/auth/', { body: { phone_number: phone } });
    const body = { phone_number: phone, otp_code: sent.body.otp_code };
    const results = await concurrently(200, (i) => call(i % 2 ? a : b, 'PUT', '/auth/', { body }));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status >= 500)).toEqual([]);
    const rows = await withDb((c) => c.query('select count(*)::int as n from sessions s join users u on u.id = s.user_id where u.phone_number = $1', [phone]));
    expect(rows.rows[0].n).toBe(1);
  });

  it('the resend cooldown, the attempt limit and the per-IP limit are shared', async () => {
    // Cooldown: a code from A blocks a new one from B.
    const phone = freshPhone();
    const sent = await call(a, 'POST', '/auth/', { body: { phone_number: phone } });
    expect(sent.status).toBe(200);
    const again = await call(b, 'POST', '/auth/', { body: { phone_number: phone } });
    expect(again.status).toBe(429);
    expect(again.body.error.code).toBe('OTP_RESEND_TOO_SOON');

    // Attempts: five wrong guesses spread over both processes burn the code.
    const wrong = sent.body.otp_code === '0000' ? '1111' : '0000';
    const guesses = [];
    for (let i = 0; i < 5; i++) guesses.push((await call(i % 2 ? a : b, 'PUT', '/auth/', { body: { phone_number: phone, otp_code: wrong } })).body.error.code);
    expect(guesses).toEqual(['OTP_INVALID', 'OTP_INVALID', 'OTP_INVALID', 'OTP_INVALID', 'OTP_TOO_MANY_ATTEMPTS']);
    expect((await call(a, 'PUT', '/auth/', { body: { phone_number: phone, otp_code: sent.body.otp_code } })).body.error.code).toBe('OTP_INVALID');

    // Per-IP limit: one address alternating between the processes gets the limit once, not twice.
    const ip = freshIp();
    const statuses = [];
    for (let i = 0; i < REQUEST_CODE_PER_IP + 2; i++) {
      statuses.push((await call(i % 2 ? a : b, 'POST', '/auth/', { ip, body: { phone_number: freshPhone() } })).status);
    }
    expect(statuses).toEqual([...Array(REQUEST_CODE_PER_IP).fill(200), 429, 429]);
  });

  it('a logout on one process ends the session on the other at once', async () => {
    const user = await login(a, b);
    expect((await call(a, 'GET', '/profile/', { token: user.access_token })).status).toBe(200);
    expect((await call(b, 'POST', '/auth/logout', { token: user.access_token, body: {} })).status).toBe(204);
    const after = await call(a, 'GET', '/profile/', { token: user.access_token });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('SESSION_REVOKED');
    expect((await call(a, 'POST', '/auth/refresh', { body: { refresh_token: user.refresh_token } })).status).toBe(401);
  });

  it('a refresh token replayed on the other process is detected and ends the session everywhere', async () => {
    const user = await login(b, a);
    const rotated = await call(a, 'POST', '/auth/refresh', { body: { refresh_token: user.refresh_token } });
    expect(rotated.status).toBe(200);
    const replay = await call(b, 'POST', '/auth/refresh', { body: { refresh_token: user.refresh_token } });
    expect(replay.body.error.code).toBe('REFRESH_TOKEN_REUSED');
    for (const p of [a, b]) {
      expect((await call(p, 'GET', '/profile/', { token: rotated.body.access_token })).body.error.code).toBe('SESSION_REVOKED');
    }
  });

  it('activations stay unique across processes: one per user, no cycles, every one counted', async () => {
    const owners = await Promise.all([login(a, b), login(b, a), login(a, a)]);
    const codes = await Promise.all(owners.map(async (o) => (await call(a, 'GET', '/profile/', { token: o.access_token })).body.invite_code as string));
    const me = await login(b, b);

    // 60 activations by one user, over both processes, of three different codes: one wins.
    const results = await concurrently(60, (i) =>
      call(i % 2 ? a : b, 'POST', '/profile/', { token: me.access_token, body: { other_profile_invite_code: codes[i % 3] } }),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 200)) {
      expect(['INVITE_CODE_ALREADY_ACTIVATED', 'RATE_LIMITED']).toContain(r.body.error.code);
    }

    // Crossed activations, each through a different process: one wins, the other is a cycle.
    const [x, y] = await Promise.all([login(a, b), login(b, a)]);
    const [cx, cy] = await Promise.all(
      [x, y].map(async (u) => (await call(b, 'GET', '/profile/', { token: u.access_token })).body.invite_code as string),
    );
    const crossed = await Promise.all([
      call(a, 'POST', '/profile/', { token: x.access_token, body: { other_profile_invite_code: cy } }),
      call(b, 'POST', '/profile/', { token: y.access_token, body: { other_profile_invite_code: cx } }),
    ]);
    expect(tally(crossed.map((r) => r.status))).toEqual({ '200': 1, '422': 1 });

    // In the table: every counter equals its edges.
    const mismatched = await withDb((c) =>
      c.query(`select u.phone_number from users u
               where u.invited_count <> (select count(*) from users v where v.invited_by = u.id)`),
    );
    expect(mismatched.rows).toEqual([]);
    const mine = await withDb((c) => c.query('select invited_by from users where id = $1', [me.sub]));
    expect(owners.map((o) => o.sub)).toContain(mine.rows[0].invited_by);
  });

  it("migrates its own schema even when another schema of the database has Kysely's bookkeeping tables", async () => {
    // Replicas (and test files) sharing one database, each in its own DATABASE_SCHEMA: another
    // schema's kysely_migration_lock must not make the migrator skip creating its own.
    const id = randomBytes(4).toString('hex');
    const [other, mine] = [`mig_other_${id}`, `mig_mine_${id}`];
    await withDb(async (c) => {
      await c.query(`create schema ${other}`);
      await c.query(`create table ${other}.kysely_migration (name varchar(255) primary key, timestamp varchar(255) not null)`);
      await c.query(`create table ${other}.kysely_migration_lock (id varchar(255) primary key, is_locked integer not null default 0)`);
    });
    try {
      const deps = await createDeps(loadConfig({ DATABASE_URL: databaseUrl, DATABASE_SCHEMA: mine, DATA_DIR: dataDir, LOG_LEVEL: 'silent' }));
      await deps.close();
      const tables = await withDb((c) =>
        c.query('select table_name from information_schema.tables where table_schema = $1 order by 1', [mine]),
      );
      expect(tables.rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['kysely_migration', 'kysely_migration_lock', 'sessions', 'users']));
    } finally {
      await withDb((c) => c.query(`drop schema if exists ${other} cascade; drop schema if exists ${mine} cascade`));
    }
  });

  it('ran both processes without an unexpected error in their logs', () => {
    for (const p of [a, b]) {
      expect(p.child.exitCode).toBeNull();
      expect(p.output.filter((line) => line.includes('"unhandled error"') || line.includes('"level":50'))).toEqual([]);
    }
  });
});

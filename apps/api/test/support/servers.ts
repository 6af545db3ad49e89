import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from './net.js';

/**
 * Throwaway Redis and Postgres servers that a test starts, stops and restarts itself — on random
 * ports, in temporary directories — so fault tests never touch the machine's shared services.
 *
 * The binaries must exist: a missing `redis-server` or `initdb`/`pg_ctl` is an error naming what
 * to install, never a silently skipped test.
 */

const run = promisify(execFile);

function findOnPath(binary: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, binary);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

/** The directory with initdb and pg_ctl: PG_BIN_DIR, else the newest /usr/lib/postgresql/N/bin, else PATH. */
export function postgresBinDir(): string {
  const fromEnv = process.env.PG_BIN_DIR;
  if (fromEnv && existsSync(path.join(fromEnv, 'initdb'))) return fromEnv;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(root, versions[0], 'bin');
  }
  const initdb = findOnPath('initdb');
  if (initdb && findOnPath('pg_ctl')) return path.dirname(initdb);
  throw new Error(
    'The fault tests start their own Postgres cluster and need initdb and pg_ctl: install the postgresql ' +
      'server package (Debian/Ubuntu: apt-get install postgresql) or set PG_BIN_DIR to the directory holding them.',
  );
}

export function redisServerBinary(): string {
  const found = findOnPath('redis-server');
  if (!found) {
    throw new Error(
      'The fault tests start their own Redis and need redis-server on PATH: install it ' +
        '(Debian/Ubuntu: apt-get install redis-server).',
    );
  }
  return found;
}

async function waitFor(what: string, ms: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ThrowawayRedis {
  port: number;
  url: string;
  /** Kills the server (SIGKILL: a crash, not a polite shutdown). */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: it persists nothing). */
  start(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open but nothing answers — a network partition. */
  pause(): void;
  /** Thaws it (SIGCONT). */
  resume(): void;
  /** Stops it for good and removes its directory. */
  destroy(): Promise<void>;
}

export async function startRedis(): Promise<ThrowawayRedis> {
  const binary = redisServerBinary();
  const dir = await mkdtemp(path.join(tmpdir(), 'pa-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = null;

  async function start() {
    const proc = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', ''],
      { stdio: 'ignore' },
    );
    child = proc;
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`))));
    exited.catch(() => undefined);
    await Promise.race([
      waitFor(`redis-server on port ${port}`, 10_000, async () => {
        const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        probe.on('error', () => undefined);
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG';
        } finally {
          probe.disconnect();
        }
      }),
      exited,
    ]);
  }

  async function stop() {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  }

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface ThrowawayPostgres {
  port: number;
  /** Superuser `postgres`, trust auth, database `postgres`. */
  url: string;
  /** `pg_ctl stop -m fast`: the server ends every connection and shuts down. */
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * initdb + pg_ctl in a temporary directory. Postgres refuses to run as root, so when the tests
 * run as root the cluster belongs to the `postgres` OS user and its commands run through runuser.
 */
export async function startPostgres(): Promise<ThrowawayPostgres> {
  const bin = postgresBinDir();
  const isRoot = process.getuid?.() === 0;
  const asOwner = (cmd: string, args: string[]) =>
    isRoot ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args);

  const dir = await mkdtemp(path.join(tmpdir(), 'pa-pg-'));
  if (isRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']).catch(() => {
      throw new Error('Running as root, the fault tests need a `postgres` OS user to own their throwaway cluster.');
    });
    const uid = Number(stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    await chown(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  const port = await freePort();
  await asOwner(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;

  async function start() {
    await asOwner(path.join(bin, 'pg_ctl'), ['-D', data, '-o', options, '-l', path.join(dir, 'log'), '-w', '-t', '30', 'start']);
    await waitFor(`postgres on port ${port}`, 10_000, async () => {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('select 1');
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    });
  }

  async function stop() {
    await asOwner(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
  }

  await start();
  return {
    port,
    url,
    stop,
    start,
    async destroy() {
      await asOwner(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Both servers, started side by side; if either fails, the other is torn down before rethrowing. */
export async function startRedisAndPostgres(): Promise<{ redis: ThrowawayRedis; postgres: ThrowawayPostgres }> {
  const [redis, postgres] = await Promise.allSettled([startRedis(), startPostgres()]);
  if (redis.status === 'fulfilled' && postgres.status === 'fulfilled') return { redis: redis.value, postgres: postgres.value };
  if (redis.status === 'fulfilled') await redis.value.destroy();
  if (postgres.status === 'fulfilled') await postgres.value.destroy();
  throw redis.status === 'rejected' ? redis.reason : (postgres as PromiseRejectedResult).reason;
}

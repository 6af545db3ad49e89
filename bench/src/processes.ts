import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';

export interface Started {
  name: string;
  url: string;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * The environment the bench runs the compiled API with: production mode against the given
 * Postgres and Redis (its own key prefix), migrations on start, codes handed back in the response
 * (console provider) and living long enough to be used later in the run, and every per-IP /
 * per-phone limit far above what a run sends from one IP. `overrides` (--env) come last.
 */
export function apiEnvironment(o: {
  port: number;
  dataDir: string;
  databaseUrl: string;
  redisUrl: string;
  redisKeyPrefix: string;
  pool: number;
  overrides?: Record<string, string>;
}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    PORT: String(o.port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DATA_DIR: o.dataDir,
    DATABASE_URL: o.databaseUrl,
    REDIS_URL: o.redisUrl,
    REDIS_KEY_PREFIX: o.redisKeyPrefix,
    MIGRATE_ON_START: 'true',
    SMS_PROVIDER: 'console',
    OTP_EXPOSE_IN_RESPONSE: 'true',
    OTP_TTL_SECONDS: '3600',
    OTP_RESEND_SECONDS: '0',
    OTP_MAX_SENDS_PER_PHONE_PER_DAY: '10000',
    RATE_LIMIT_REQUEST_CODE_PER_IP: '1000000',
    RATE_LIMIT_VERIFY_CODE_PER_IP: '1000000',
    RATE_LIMIT_REFRESH_PER_IP: '1000000',
    INVITE_MAX_FAILURES: '10000',
    // The read scenarios log in once and read for the whole run (rounds, interleaved scale runs),
    // which can outlast the default 15 minutes.
    ACCESS_TOKEN_TTL_SECONDS: '86400',
    DATABASE_POOL_SIZE: String(o.pool),
    ...o.overrides,
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(url: string, child: ChildProcess, name: string, logFile: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}; see ${logFile}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not come up within ${timeoutMs} ms; see ${logFile}`);
}

/**
 * Starts a Node process with its output going to a log file (a pipe nobody reads would block
 * it), waits until `readyPath` answers, and returns a stopper that sends SIGTERM (so
 * `--cpu-prof` profiles are written) and waits for the exit.
 */
export async function startNode(opts: {
  name: string;
  args: string[];
  env: Record<string, string>;
  port: number;
  readyPath: string;
  logFile: string;
  cwd: string;
}): Promise<Started> {
  const fd = openSync(opts.logFile, 'a');
  const child = spawn(process.execPath, opts.args, {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...opts.env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const url = `http://127.0.0.1:${opts.port}`;
  try {
    await waitUntilUp(`${url}${opts.readyPath}`, child, opts.name, opts.logFile);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    name: opts.name,
    url,
    child,
    logFile: opts.logFile,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

export function runCommand(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

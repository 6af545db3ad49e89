import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
// The API is started in this process from its own test harness (real HTTP on a random port).
import { startApp, type TestApp } from '../../api/test/support/app.js';
import type { Backend } from '../../api/test/support/backends.js';

/**
 * Runs the built `phone-auth` binary (dist/, built by `turbo run test` through dependsOn build)
 * as a subprocess, with its own config home and API URL.
 */

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/index.js');
export const ADMIN_TOKEN = 'cli-test-admin-token-0123456789abcdefghijkl';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to stdin, which is then closed. */
  input?: string;
  env?: Record<string, string>;
  /** When stderr shows this prompt, types the reply (and closes stdin). */
  answer?: { prompt: string; reply: () => string };
}

export const makeConfigHome = () => mkdtemp(path.join(tmpdir(), 'phone-auth-cli-'));
export const removeConfigHome = (dir: string | undefined) => (dir ? rm(dir, { recursive: true, force: true }) : undefined);

export function spawnCli(configHome: string, url: string, args: string[], opts: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: configHome,
        XDG_CONFIG_HOME: configHome,
        PHONE_AUTH_URL: url,
        ...opts.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let answered = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (opts.answer && !answered && stderr.includes(opts.answer.prompt)) {
        answered = true;
        child.stdin.end(`${opts.answer.reply()}\n`);
      }
    });
    if (opts.input !== undefined) child.stdin.write(opts.input);
    if (!opts.answer) child.stdin.end();
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Asserts a failed run printed exactly one clean line naming the error code. */
export function expectErrorLine(res: Run, exit: number, code: string) {
  expect(res.code).toBe(exit);
  const lines = res.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^phone-auth: ${code}: `));
  expect(res.stderr).not.toMatch(/\n\s+at /);
}

export interface CliAgainstApi {
  /** The API under test (set in beforeAll). */
  readonly t: TestApp;
  /** The CLI's HOME / XDG_CONFIG_HOME (set in beforeAll). */
  readonly configHome: string;
  /** Runs the CLI against `t`. */
  run(args: string[], opts?: RunOptions): Promise<Run>;
  /** Requests a code over HTTP and returns it (for `login --code`). */
  freshCode(phone: string): Promise<string>;
}

/**
 * Starts the API (with ADMIN_TOKEN) and a fresh config home for the enclosing describe block, and
 * removes both afterwards.
 */
export function useCliAgainstApi(backend: Backend): CliAgainstApi {
  let t: TestApp;
  let configHome: string;
  beforeAll(async () => {
    t = await startApp(backend, { env: { ADMIN_API_TOKEN: ADMIN_TOKEN } });
    configHome = await makeConfigHome();
  });
  afterAll(async () => {
    await t?.close();
    await removeConfigHome(configHome);
  });
  return {
    get t() {
      return t;
    },
    get configHome() {
      return configHome;
    },
    run: (args, opts = {}) => spawnCli(configHome, t.url, args, opts),
    async freshCode(phone) {
      t.clock.advance(61_000);
      const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      return sent.body.otp_code as string;
    },
  };
}

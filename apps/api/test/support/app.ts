import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createDeps, type Deps, type DepsOverrides } from '../../src/deps.js';
import type { Backend } from './backends.js';
import { createTestClock, type TestClock } from './clock.js';
import type { SmsSender } from '../../src/modules/sms/sms.sender.js';
import { createCapturingSms, type CapturingSms } from './sms.js';

export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as is (no JSON encoding); use with `contentType`. */
  rawBody?: string | Buffer;
  contentType?: string;
  token?: string;
  headers?: Record<string, string>;
}

export interface TestApp {
  url: string;
  app: FastifyInstance;
  deps: Deps;
  clock: TestClock;
  sms: CapturingSms;
  /** Every structured log line written so far. */
  logs: string[];
  request<T = any>(method: string, path: string, opts?: RequestOptions): Promise<HttpResult<T>>;
  /** Requests a code and exchanges it: returns the token response. */
  login(phone: string): Promise<{ access_token: string; refresh_token: string; user_created: boolean }>;
  close(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /**
   * The SMS sender: a capturing fake by default; a given sender; or `'configured'` for the
   * provider SMS_PROVIDER selects (webhook/twilio tests against local HTTP servers).
   */
  sms?: SmsSender | 'configured';
  /**
   * Keep the database across `restart()`: the embedded backend then uses a PGlite directory in
   * DATA_DIR instead of memory://. (Postgres keeps its schema either way.)
   */
  persistent?: boolean;
}

export interface RestartableTestApp extends TestApp {
  /**
   * Stops this app (keeping the database, DATA_DIR and clock) and starts a new one with these
   * environment overrides on top of the original ones. The returned app owns the cleanup.
   */
  restart(env?: Record<string, string>): Promise<RestartableTestApp>;
}

/**
 * Starts the real app on a random port on the given backend, with a controllable clock and a
 * capturing SMS sender (unless `sms` says otherwise). Requests go over real HTTP.
 */
export async function startApp(backend: Backend, opts: StartOptions = {}): Promise<RestartableTestApp> {
  const provisioned = await backend.provision();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'phone-auth-test-'));
  const storageEnv = { ...provisioned.env };
  if (opts.persistent && storageEnv.DATABASE_URL === 'memory://') delete storageEnv.DATABASE_URL;
  const cleanup = async () => {
    await provisioned.cleanup();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    return await boot({ storageEnv, dataDir, env: opts.env ?? {}, sms: opts.sms, clock: createTestClock(), cleanup });
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function boot(b: {
  storageEnv: Record<string, string>;
  dataDir: string;
  env: Record<string, string>;
  sms: StartOptions['sms'];
  clock: TestClock;
  cleanup: () => Promise<void>;
}): Promise<RestartableTestApp> {
  const { clock, dataDir } = b;
  const config = loadConfig({
    LOG_LEVEL: 'info',
    DATA_DIR: dataDir,
    // Generous per-IP limits: every test request comes from 127.0.0.1.
    RATE_LIMIT_REQUEST_CODE_PER_IP: '100000',
    RATE_LIMIT_VERIFY_CODE_PER_IP: '100000',
    RATE_LIMIT_REFRESH_PER_IP: '100000',
    ...b.storageEnv,
    ...b.env,
  });
  const sms = createCapturingSms();
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const overrides: DepsOverrides = { clock, logStream };
  if (b.sms !== 'configured') overrides.sms = b.sms ?? sms;
  const deps = await createDeps(config, overrides);
  let app: FastifyInstance;
  try {
    app = await buildApp(deps);
    await app.listen({ port: 0, host: '127.0.0.1' });
  } catch (err) {
    await deps.close();
    throw err;
  }
  const address = app.server.address();
  const url = typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';

  async function request<T = any>(method: string, p: string, o: RequestOptions = {}): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...o.headers };
    let body: string | Buffer | undefined;
    if (o.rawBody !== undefined) {
      body = o.rawBody;
      if (o.contentType) headers['content-type'] = o.contentType;
    } else if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] = o.contentType ?? 'application/json';
    }
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    const res = await fetch(url + p, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  const stop = async () => {
    await app.close();
    await deps.close();
  };

  return {
    url,
    app,
    deps,
    clock,
    sms,
    logs,
    request,
    async login(phone) {
      const sent = await request('POST', '/auth/', { body: { phone_number: phone } });
      if (sent.status !== 200) throw new Error(`POST /auth/ ${sent.status}: ${sent.text}`);
      const code = sent.body.otp_code ?? sms.sent[sms.sent.length - 1]?.code;
      const res = await request('PUT', '/auth/', { body: { phone_number: phone, otp_code: code } });
      if (res.status !== 200) throw new Error(`PUT /auth/ ${res.status}: ${res.text}`);
      return res.body;
    },
    async restart(env = {}) {
      await stop();
      try {
        return await boot({ ...b, env: { ...b.env, ...env } });
      } catch (err) {
        await b.cleanup();
        throw err;
      }
    },
    async close() {
      await stop();
      await b.cleanup();
    },
  };
}

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

/**
 * Starts the real app on a random port on the given backend, with a controllable clock and a
 * capturing SMS sender (unless `sms` is given). Requests go over real HTTP.
 */
export async function startApp(
  backend: Backend,
  opts: { env?: Record<string, string>; sms?: DepsOverrides['sms'] } = {},
): Promise<TestApp> {
  const provisioned = await backend.provision();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'phone-auth-test-'));
  const config = loadConfig({
    LOG_LEVEL: 'info',
    DATA_DIR: dataDir,
    // Generous per-IP limits: every test request comes from 127.0.0.1.
    RATE_LIMIT_REQUEST_CODE_PER_IP: '100000',
    RATE_LIMIT_VERIFY_CODE_PER_IP: '100000',
    RATE_LIMIT_REFRESH_PER_IP: '100000',
    ...provisioned.env,
    ...opts.env,
  });
  const clock = createTestClock();
  const sms = createCapturingSms();
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  let deps: Deps;
  try {
    deps = await createDeps(config, { clock, sms: opts.sms ?? sms, logStream });
  } catch (err) {
    await provisioned.cleanup();
    throw err;
  }
  const app = await buildApp(deps);
  await app.listen({ port: 0, host: '127.0.0.1' });
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
    async close() {
      await app.close();
      await deps.close();
      await provisioned.cleanup();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

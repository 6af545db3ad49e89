/**
 * Soak run (`pnpm soak`): a bounded steady load against the API for a few minutes, sampling the
 * API's heap, to catch leaks and errors that short tests cannot. Not part of `pnpm test`.
 *
 * The API runs in a child process (scripts/soak-server.ts, built as server.ts builds it) with
 * `--expose-gc`; every SOAK_SAMPLE_SECONDS it reports heapUsed after a full GC. Client workers
 * (this process) loop through a user's whole life: request a code, log in, read the profile and
 * the invitees, refresh, activate an invite code, log out. Each worker owns its phones, so every
 * answer is predictable and anything else counts as an error.
 *
 * Backend: real Postgres + Redis when TEST_DATABASE_URL and TEST_REDIS_URL are set (a schema and
 * key prefix of its own, removed afterwards), else the embedded one (in-memory PGlite +
 * in-process store).
 *
 * Settings (environment): SOAK_SECONDS (180), SOAK_CONCURRENCY (16), SOAK_PHONES_PER_WORKER (25),
 * SOAK_SAMPLE_SECONDS (10), SOAK_MAX_HEAP_GROWTH_MB (10).
 *
 * Exits 1 when any request failed or the heap grew by more than SOAK_MAX_HEAP_GROWTH_MB between
 * the start and the end of the measured period (after a warm-up of a fifth of the run).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropSchemaAndKeys } from '../test/support/cleanup.js';

const num = (name: string, def: number) => {
  const v = process.env[name];
  const n = v ? Number(v) : def;
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number`);
  return n;
};
const SECONDS = num('SOAK_SECONDS', 180);
const CONCURRENCY = num('SOAK_CONCURRENCY', 16);
const PHONES_PER_WORKER = num('SOAK_PHONES_PER_WORKER', 25);
const SAMPLE_SECONDS = num('SOAK_SAMPLE_SECONDS', 10);
const MAX_GROWTH_MB = num('SOAK_MAX_HEAP_GROWTH_MB', 10);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const MB = 1024 * 1024;

interface Sample {
  atSeconds: number;
  heapUsedMb: number;
  rssMb: number;
}

async function provisionBackend(): Promise<{ env: Record<string, string>; name: string; cleanup(): Promise<void> }> {
  const dbUrl = process.env.TEST_DATABASE_URL;
  const redisUrl = process.env.TEST_REDIS_URL;
  if (!dbUrl || !redisUrl) {
    return { name: 'embedded (in-memory PGlite + in-process store)', env: { DATABASE_URL: 'memory://' }, cleanup: async () => undefined };
  }
  const id = randomBytes(4).toString('hex');
  const schema = `soak_${id}`;
  const prefix = `soak:${id}:`;
  return {
    name: `postgres + redis (schema ${schema})`,
    env: { DATABASE_URL: dbUrl, DATABASE_SCHEMA: schema, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix },
    cleanup: () => dropSchemaAndKeys(dbUrl, schema, redisUrl, prefix),
  };
}

function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(path.join(HERE, 'soak-server.ts'), [], {
    cwd: path.join(HERE, '..'),
    execArgv: ['--import', 'tsx', '--conditions=@phone-auth/source', '--expose-gc'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  // Pass the server's output through, except the console SMS provider's one line per code.
  child.stdout?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line && !line.startsWith('[sms:console]')) console.log(line);
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`soak server exited with ${code}`)));
    child.once('message', (m: { type: string; port: number; gc: boolean }) => {
      if (m.type !== 'ready') return reject(new Error(`unexpected message ${JSON.stringify(m)}`));
      if (!m.gc) return reject(new Error('the soak server runs without --expose-gc; heap samples would be noise'));
      resolve({ child, port: m.port });
    });
  });
}

function heapSample(child: ChildProcess, startedAt: number): Promise<Sample> {
  return new Promise((resolve) => {
    const onMessage = (m: { type: string; usage: NodeJS.MemoryUsage }) => {
      if (m.type !== 'heap') return;
      child.off('message', onMessage);
      resolve({
        atSeconds: Math.round((Date.now() - startedAt) / 1000),
        heapUsedMb: +(m.usage.heapUsed / MB).toFixed(2),
        rssMb: +(m.usage.rss / MB).toFixed(1),
      });
    };
    child.on('message', onMessage);
    child.send({ type: 'heap' });
  });
}

async function main(): Promise<void> {
  const backend = await provisionBackend();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'phone-auth-soak-'));
  const { child, port } = await startServer({
    ...backend.env,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    // Steady load from one address and a fixed set of phones: lift the limits it would hit.
    OTP_RESEND_SECONDS: '0',
    OTP_MAX_SENDS_PER_PHONE_PER_DAY: '10000',
    OTP_MAX_FAILURES_PER_PHONE: '10000',
    INVITE_MAX_FAILURES: '10000',
    RATE_LIMIT_REQUEST_CODE_PER_IP: '1000000',
    RATE_LIMIT_VERIFY_CODE_PER_IP: '1000000',
    RATE_LIMIT_REFRESH_PER_IP: '1000000',
  });
  const base = `http://127.0.0.1:${port}`;
  console.log(`soak: ${SECONDS} s, ${CONCURRENCY} workers × ${PHONES_PER_WORKER} phones, backend ${backend.name}`);

  const statuses: Record<string, number> = {};
  const errors: string[] = [];
  const latencies: number[] = [];
  let requests = 0;

  async function call(method: string, route: string, expected: number[], body?: unknown, token?: string): Promise<Record<string, string> | null> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const started = performance.now();
    try {
      const res = await fetch(base + route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      latencies.push(performance.now() - started);
      requests++;
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (!expected.includes(res.status)) {
        if (errors.length < 20) errors.push(`${method} ${route} → ${res.status} ${text.slice(0, 200)}`);
        else errors.length++;
        return null;
      }
      return text ? (JSON.parse(text) as Record<string, string>) : {};
    } catch (err) {
      requests++;
      if (errors.length < 20) errors.push(`${method} ${route} → ${(err as Error).message}`);
      else errors.length++;
      return null;
    }
  }

  // A hub user whose invite code everybody activates (the first activation of each user wins).
  const hubPhone = '+79170000000';
  const hubSent = await call('POST', '/auth/', [200], { phone_number: hubPhone });
  const hub = await call('PUT', '/auth/', [200], { phone_number: hubPhone, otp_code: hubSent?.otp_code });
  const hubCode = (await call('GET', '/profile/', [200], undefined, hub?.access_token))?.invite_code;
  if (!hubCode) throw new Error(`could not set up the hub user: ${errors.join('; ')}`);

  const startedAt = Date.now();
  const endAt = startedAt + SECONDS * 1000;
  const samples: Sample[] = [];
  samples.push(await heapSample(child, startedAt));
  const sampler = setInterval(() => {
    void heapSample(child, startedAt).then((s) => {
      samples.push(s);
      console.log(`  t=${s.atSeconds}s heapUsed ${s.heapUsedMb} MB, rss ${s.rssMb} MB, ${requests} requests, ${errors.length} errors`);
    });
  }, SAMPLE_SECONDS * 1000);

  async function worker(w: number) {
    let k = 0;
    while (Date.now() < endAt) {
      const phone = `+7918${String(w * PHONES_PER_WORKER + (k++ % PHONES_PER_WORKER)).padStart(7, '0')}`;
      const sent = await call('POST', '/auth/', [200], { phone_number: phone });
      if (!sent) continue;
      const tokens = await call('PUT', '/auth/', [200], { phone_number: phone, otp_code: sent.otp_code });
      if (!tokens) continue;
      for (let i = 0; i < 3; i++) await call('GET', '/profile/', [200], undefined, tokens.access_token);
      await call('GET', '/profile/invited-users?limit=20', [200], undefined, tokens.access_token);
      const next = await call('POST', '/auth/refresh', [200], { refresh_token: tokens.refresh_token });
      if (!next) continue;
      await call('POST', '/profile/', [200, 409], { other_profile_invite_code: hubCode }, next.access_token);
      await call('POST', '/auth/logout', [204], {}, next.access_token);
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w + 1)));
  clearInterval(sampler);
  samples.push(await heapSample(child, startedAt));

  child.send({ type: 'stop' });
  await new Promise((r) => child.once('exit', r));
  await backend.cleanup();
  await rm(dataDir, { recursive: true, force: true });

  // Heap: compare the lowest post-GC sample early in the measured period with the lowest late
  // one (lows after a full GC are live memory; highs are timing noise).
  const warm = samples.filter((s) => s.atSeconds >= SECONDS / 5);
  const third = Math.max(1, Math.floor(warm.length / 3));
  const baseline = Math.min(...warm.slice(0, third).map((s) => s.heapUsedMb));
  const final = Math.min(...warm.slice(-third).map((s) => s.heapUsedMb));
  const growth = +(final - baseline).toFixed(2);
  const sorted = [...latencies].sort((a, b) => a - b);
  const pct = (p: number) => +(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0).toFixed(1);
  const report = {
    backend: backend.name,
    seconds: SECONDS,
    workers: CONCURRENCY,
    requests,
    requestsPerSecond: Math.round(requests / SECONDS),
    statuses,
    errors: errors.length,
    latencyMs: { p50: pct(0.5), p99: pct(0.99), max: +(sorted.at(-1) ?? 0).toFixed(1) },
    heapUsedMb: { start: samples[0]?.heapUsedMb, baseline, final, growth, limit: MAX_GROWTH_MB },
    rssMb: { start: samples[0]?.rssMb, end: samples.at(-1)?.rssMb },
  };
  console.log(JSON.stringify(report, null, 2));
  for (const e of errors.filter(Boolean)) console.error(`  error: ${e}`);

  const failures = [];
  if (errors.length > 0) failures.push(`${errors.length} requests failed`);
  if (warm.length < 2) failures.push('too few heap samples: run longer (SOAK_SECONDS) or sample more often');
  if (growth > MAX_GROWTH_MB) failures.push(`heap grew by ${growth} MB (limit ${MAX_GROWTH_MB} MB)`);
  if (failures.length) {
    console.error(`soak FAILED: ${failures.join('; ')}`);
    process.exit(1);
  }
  console.log('soak passed');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

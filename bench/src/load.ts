import autocannon from 'autocannon';
import { cpuBetween, sampleCpu } from './cpu.js';

export interface Measured {
  name: string;
  method: string;
  path: string;
  connections: number;
  durationSeconds: number;
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /**
   * CPU per request in µs over the measured run: the server under test (API or baseline) and all
   * of Postgres (same machine only). Absent where /proc is not available.
   */
  serverCpuUs?: number;
  postgresCpuUs?: number;
  /** Set when the run ended early because its pool of one-time inputs (codes, tokens) ran out. */
  stoppedEarly?: string;
  note?: string;
}

export interface Scenario {
  name: string;
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  /** Per request: the body and headers (and optionally a different path). null → inputs ran out. */
  next?: (ctx: Record<string, unknown>) => { body?: unknown; headers?: Record<string, string>; path?: string } | null;
  /** `ctx` is the one `next` filled for this request (one request in flight per connection). */
  onResponse?: (status: number, body: string, ctx: Record<string, unknown>) => void;
  note?: string;
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** The server's process id, for its CPU per request. */
  serverPid?: number;
}

async function run(s: Scenario, o: LoadOptions, seconds: number): Promise<autocannon.Result & { stoppedEarly?: string }> {
  let exhausted: string | undefined;
  let instance: autocannon.Instance | undefined;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: o.url,
        connections: o.connections,
        duration: seconds,
        pipelining: 1,
        timeout: 10,
        requests: [
          {
            method: s.method,
            path: s.path,
            headers: { 'content-type': 'application/json' },
            setupRequest: (req, ctx) => {
              if (!s.next) return req;
              const input = s.next(ctx as Record<string, unknown>);
              if (!input) {
                if (!exhausted) {
                  exhausted = 'inputs ran out';
                  // Stop from outside the request cycle; the requests in flight complete.
                  setImmediate(() => instance?.stop());
                }
                return { ...req, method: 'GET', path: '/.well-known/jwks.json', body: undefined };
              }
              return {
                ...req,
                path: input.path ?? s.path,
                headers: { ...req.headers, ...input.headers },
                body: input.body === undefined ? undefined : JSON.stringify(input.body),
              };
            },
            onResponse: s.onResponse ? (status, body, ctx) => s.onResponse?.(status, body, ctx as Record<string, unknown>) : undefined,
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
  return { ...result, stoppedEarly: exhausted };
}

/** Warm-up (results discarded), then the measured run with the same connections. */
export async function measure(s: Scenario, o: LoadOptions): Promise<Measured> {
  if (o.warmupSeconds > 0) await run(s, o, o.warmupSeconds);
  const before = sampleCpu(o.serverPid);
  const r = await run(s, o, o.durationSeconds);
  const cpu = cpuBetween(before, sampleCpu(o.serverPid));
  const perRequest = (ms: number | null) => (ms === null || r.requests.total === 0 ? undefined : Math.round((ms * 1000) / r.requests.total));
  const serverCpuUs = perRequest(cpu.serverMs);
  const postgresCpuUs = perRequest(cpu.postgresMs);
  const statusCodes: Record<string, number> = {};
  for (const [code, v] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = (v as { count: number }).count;
  const seconds = r.duration;
  return {
    name: s.name,
    method: s.method,
    path: s.path,
    connections: o.connections,
    durationSeconds: Math.round(seconds * 100) / 100,
    requests: r.requests.total,
    // Total over wall time (not the mean of per-second samples): right also for early stops.
    rps: Math.round((r.requests.total / seconds) * 10) / 10,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    max: r.latency.max,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    statusCodes,
    ...(serverCpuUs !== undefined ? { serverCpuUs } : {}),
    ...(postgresCpuUs !== undefined ? { postgresCpuUs } : {}),
    ...(r.stoppedEarly ? { stoppedEarly: r.stoppedEarly } : {}),
    ...(s.note ? { note: s.note } : {}),
  };
}

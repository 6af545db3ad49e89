import type { DependencyCheck, DependencyChecks } from '@phone-auth/contract';

export interface HealthService {
  /** Pings every dependency (in parallel, each with a short timeout). */
  check(): Promise<{ ready: boolean; checks: DependencyChecks; shuttingDown: boolean }>;
  /** From now on readiness answers 503: the process is draining before it exits. */
  markShuttingDown(): void;
}

type Ping = (() => Promise<void>) | null;

/** Resolves 'up' or 'down' within `timeoutMs`, whatever the ping does. */
async function probe(ping: Ping, timeoutMs: number, now: () => number): Promise<DependencyCheck> {
  if (!ping) return { status: 'disabled', latency_ms: null };
  const started = now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'down'>((resolve) => {
    timer = setTimeout(() => resolve('down'), timeoutMs);
  });
  const attempt = ping().then(
    () => 'up' as const,
    () => 'down' as const,
  );
  try {
    const status = await Promise.race([attempt, timeout]);
    return { status, latency_ms: Math.max(0, Math.round(now() - started)) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Readiness of the process: the database and Redis answer a ping. Redis is `disabled` when the
 * in-process store is used instead.
 * Latencies use the monotonic clock, not the injectable one.
 */
export function createHealthService(deps: {
  pingDatabase: () => Promise<void>;
  /** null when REDIS_URL is not set. */
  pingRedis: Ping;
  timeoutMs: number;
}): HealthService {
  let shuttingDown = false;
  const now = () => performance.now();
  return {
    markShuttingDown() {
      shuttingDown = true;
    },
    async check() {
      const [database, redis] = await Promise.all([
        probe(deps.pingDatabase, deps.timeoutMs, now),
        probe(deps.pingRedis, deps.timeoutMs, now),
      ]);
      const checks = { database, redis };
      const ready = !shuttingDown && database.status !== 'down' && redis.status !== 'down';
      return { ready, checks, shuttingDown };
    },
  };
}

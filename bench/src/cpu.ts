import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of processes on this machine, from /proc (Linux; elsewhere the bench reports no CPU
 * columns). CPU per request is what the API's optimisations change, and unlike requests/s it
 * barely moves when other work on a shared machine takes cores away.
 */
const TICKS_PER_MS = 100 / 1000; // USER_HZ is 100 on Linux

/** utime + stime of one process in ms, or null when it is gone (or there is no /proc). */
function processCpuMs(pid: number | string): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_MS;
  } catch {
    return null;
  }
}

/** CPU ms of every process named `postgres` (backends, WAL writer, checkpointer, autovacuum). */
function postgresCpuMs(): Map<string, number> {
  const out = new Map<string, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
    } catch {
      continue;
    }
    const ms = processCpuMs(pid);
    if (ms !== null) out.set(pid, ms);
  }
  return out;
}

export interface CpuSample {
  server: number | null;
  postgres: Map<string, number>;
}

export function sampleCpu(serverPid: number | undefined): CpuSample {
  return { server: serverPid === undefined ? null : processCpuMs(serverPid), postgres: postgresCpuMs() };
}

/**
 * CPU ms used between two samples by the server and by Postgres (a process that started in
 * between counts from zero; one that exited in between is missed). Null when not measurable.
 */
export function cpuBetween(a: CpuSample, b: CpuSample): { serverMs: number | null; postgresMs: number | null } {
  const serverMs = a.server !== null && b.server !== null ? b.server - a.server : null;
  let postgresMs: number | null = null;
  if (b.postgres.size > 0) {
    postgresMs = 0;
    for (const [pid, ms] of b.postgres) postgresMs += ms - (a.postgres.get(pid) ?? 0);
  }
  return { serverMs, postgresMs };
}

import type { Measured } from './load.js';

export interface EndpointRow extends Measured {
  /** requests/s relative to the bare constant route and to the one-select route (same run). */
  vsConstant: number;
  vsSelect: number;
}

export interface ScaleRow {
  group: string;
  size: string;
  name: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** p50 and requests/s relative to the group's smallest size. */
  p50Growth: number;
  rpsRatio: number;
  /** CPU per request (as in Measured) and the server's relative to the smallest size: the cost. */
  serverCpuUs?: number;
  postgresCpuUs?: number;
  serverCpuGrowth?: number;
}

export interface Target {
  target: string;
  measured: string;
  met: boolean;
}

const r2 = (x: number) => Math.round(x * 100) / 100;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** Medians of the per-round CPU per request, where every round measured it. */
function cpuMedians(ms: Measured[]): Pick<Measured, 'serverCpuUs' | 'postgresCpuUs'> {
  const out: Pick<Measured, 'serverCpuUs' | 'postgresCpuUs'> = {};
  for (const key of ['serverCpuUs', 'postgresCpuUs'] as const) {
    const xs = ms.map((m) => m[key]);
    if (xs.every((x): x is number => x !== undefined)) out[key] = Math.round(median(xs));
  }
  return out;
}

/**
 * One row per scenario from interleaved rounds: the median of req/s and latencies, errors summed,
 * and the median of the per-round ratios to that round's baselines.
 */
export function aggregateRounds(runs: { round: number; m: Measured }[]): EndpointRow[] {
  const names = [...new Set(runs.map((r) => r.m.name))];
  const baseOf = (name: string, round: number) => runs.find((r) => r.round === round && r.m.name === name)?.m.rps ?? NaN;
  return names.map((name) => {
    const mine = runs.filter((r) => r.m.name === name);
    // The first round's fields, less the CPU figures: those are medians of every round or absent.
    const { serverCpuUs: _s, postgresCpuUs: _p, ...first } = mine[0]?.m as Measured;
    const sum = (f: (m: Measured) => number) => mine.reduce((a, r) => a + f(r.m), 0);
    const codes: Record<string, number> = {};
    for (const r of mine) for (const [c, n] of Object.entries(r.m.statusCodes)) codes[c] = (codes[c] ?? 0) + n;
    const stopped = mine.find((r) => r.m.stoppedEarly)?.m.stoppedEarly;
    return {
      ...first,
      durationSeconds: r2(sum((m) => m.durationSeconds)),
      requests: sum((m) => m.requests),
      rps: Math.round(median(mine.map((r) => r.m.rps)) * 10) / 10,
      p50: median(mine.map((r) => r.m.p50)),
      p90: median(mine.map((r) => r.m.p90)),
      p99: median(mine.map((r) => r.m.p99)),
      max: Math.max(...mine.map((r) => r.m.max)),
      errors: sum((m) => m.errors),
      timeouts: sum((m) => m.timeouts),
      non2xx: sum((m) => m.non2xx),
      statusCodes: codes,
      ...cpuMedians(mine.map((r) => r.m)),
      ...(stopped ? { stoppedEarly: stopped } : {}),
      vsConstant: r2(median(mine.map((r) => r.m.rps / baseOf('baseline: constant', r.round)))),
      vsSelect: r2(median(mine.map((r) => r.m.rps / baseOf('baseline: one select', r.round)))),
    };
  });
}

export function scaleRows(group: string, runs: { size: string; m: Measured }[]): ScaleRow[] {
  const byName = new Map<string, Measured>();
  return runs.map(({ size, m }) => {
    const first = byName.get(m.name) ?? m;
    byName.set(m.name, first);
    return {
      group,
      size,
      name: m.name,
      rps: m.rps,
      p50: m.p50,
      p99: m.p99,
      non2xx: m.non2xx,
      errors: m.errors + m.timeouts,
      p50Growth: r2(m.p50 / Math.max(first.p50, 0.001)),
      rpsRatio: r2(m.rps / Math.max(first.rps, 0.001)),
      ...(m.serverCpuUs !== undefined ? { serverCpuUs: m.serverCpuUs } : {}),
      ...(m.postgresCpuUs !== undefined ? { postgresCpuUs: m.postgresCpuUs } : {}),
      ...(m.serverCpuUs !== undefined && first.serverCpuUs ? { serverCpuGrowth: r2(m.serverCpuUs / first.serverCpuUs) } : {}),
    };
  });
}

export function evaluateTargets(rows: EndpointRow[], scale: ScaleRow[]): Target[] {
  const find = (name: string) => rows.find((r) => r.name === name);
  const targets: Target[] = [];
  const ratio = (name: string, min: number, label: string) => {
    const r = find(name);
    // Without the one-select baseline in the run (--only) there is nothing to compare with.
    if (r && Number.isFinite(r.vsSelect)) {
      targets.push({ target: `${label} ≥ ${min * 100}% of one-select baseline req/s`, measured: `${Math.round(r.vsSelect * 100)}%`, met: r.vsSelect >= min });
    }
  };
  ratio('GET /profile/', 0.8, 'GET /profile/');
  ratio('PUT /auth/', 0.4, 'PUT /auth/');
  ratio('POST /auth/', 0.6, 'POST /auth/');
  const bad = rows.filter((r) => !r.name.startsWith('baseline') && (r.errors + r.timeouts + r.non2xx > 0));
  targets.push({
    target: '0 errors and 0 non-2xx',
    measured: bad.length ? bad.map((r) => `${r.name}: ${r.errors + r.timeouts} errors, ${r.non2xx} non-2xx`).join('; ') : 'none',
    met: bad.length === 0,
  });
  const slow = rows.filter((r) => !r.name.startsWith('baseline') && r.p99 > 25);
  if (rows.some((r) => !r.name.startsWith('baseline'))) targets.push({
    target: 'p99 ≤ 25 ms on every endpoint',
    measured: slow.length ? slow.map((r) => `${r.name} ${r.p99} ms`).join('; ') : `max ${Math.max(...rows.filter((r) => !r.name.startsWith('baseline')).map((r) => r.p99))} ms`,
    met: slow.length === 0,
  });
  for (const group of new Set(scale.map((s) => s.group))) {
    const g = scale.filter((s) => s.group === group && ['GET /profile/', 'PUT /auth/', 'GET /profile/invited-users'].includes(s.name));
    // The target: "profile and login latency flat (within 1.5×) across the scale runs".
    // An invited-users page is not in it: its first page grows from no items to 100 by design
    // (the scale table reports that growth), so it is judged by the next check only.
    const flat = g.filter((s) => s.name === 'GET /profile/' || s.name === 'PUT /auth/');
    if (flat.length) {
      const worst = flat.reduce((a, b) => (b.p50Growth > a.p50Growth ? b : a));
      targets.push({
        target: `${group}: profile and login latency flat (p50 within 1.5× of the smallest size)`,
        measured: `worst ${worst.name} at ${worst.size}: ${worst.p50Growth}×`,
        met: worst.p50Growth <= 1.5,
      });
    }
    // Between the two non-empty sizes, for the profile and the invited-users first page: how cost
    // grows with the data, not with the page size (stricter than the issue, which names profile
    // and login only). The page from the middle is measured from 1 000 invitees on, so its own
    // growth column is already this step.
    const sizes = [...new Set(g.map((s) => s.size))];
    if (group === 'invitees per inviter' && sizes.length >= 3) {
      const [, mid, top] = sizes;
      const pairs = g
        .filter((s) => s.size === top)
        .map((s) => {
          const base = g.find((b) => b.size === mid && b.name === s.name);
          return { name: s.name, growth: base ? Math.round((s.p50 / Math.max(base.p50, 0.001)) * 100) / 100 : NaN };
        });
      const w = pairs.reduce((a, b) => (b.growth > a.growth ? b : a), { name: '', growth: 0 });
      targets.push({
        target: `${group}: ${mid} → ${top}, p50 within 1.5×`,
        measured: `worst ${w.name}: ${w.growth}×`,
        met: w.growth <= 1.5,
      });
    }
  }
  return targets;
}

export function markdown(rows: EndpointRow[], scale: ScaleRow[], targets: Target[], header: string): string {
  const out: string[] = [header, ''];
  out.push('| endpoint | req/s | p50 ms | p99 ms | errors | non-2xx | vs constant | vs one-select | server CPU µs/req | Postgres CPU µs/req |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const orDash = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? String(x) : '—'); // not measured (--only, no /proc)
  for (const r of rows) {
    const early = r.stoppedEarly ? ' ¹' : '';
    out.push(
      `| ${r.name}${early} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors + r.timeouts} | ${r.non2xx} | ${orDash(r.vsConstant)} | ${orDash(r.vsSelect)} | ${orDash(r.serverCpuUs)} | ${orDash(r.postgresCpuUs)} |`,
    );
  }
  if (rows.some((r) => r.stoppedEarly)) out.push('', '¹ stopped early: its one-time inputs (codes or tokens) ran out.');
  if (scale.length) {
    out.push(
      '',
      '| scale run | size | endpoint | req/s | p50 ms | p99 ms | non-2xx | p50 growth | req/s ratio | server CPU µs/req | CPU growth | Postgres CPU µs/req |',
      '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const s of scale) {
      const growth = s.serverCpuGrowth !== undefined ? `${s.serverCpuGrowth}×` : '—';
      out.push(
        `| ${s.group} | ${s.size} | ${s.name} | ${s.rps} | ${s.p50} | ${s.p99} | ${s.non2xx} | ${s.p50Growth}× | ${s.rpsRatio} | ${orDash(s.serverCpuUs)} | ${growth} | ${orDash(s.postgresCpuUs)} |`,
      );
    }
  }
  if (targets.length) {
    out.push('', '| target | measured | met |', '|---|---|---|');
    for (const t of targets) out.push(`| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`);
  }
  return `${out.join('\n')}\n`;
}

import { readFile } from 'node:fs/promises';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  file: string;
  /** Time the process was busy (samples outside `(idle)`); percentages are of this. */
  totalMs: number;
  idleMs: number;
  /** Self time by where the code lives: our API, a dependency, Node internals, idle, GC. */
  byArea: { area: string; ms: number; percent: number }[];
  /** The functions with the most self time. */
  topFunctions: { fn: string; where: string; ms: number; percent: number }[];
}

function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(garbage collector)') return '(gc)';
  if (functionName === '(program)') return '(program)';
  const nm = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm?.[1]) return nm[1];
  if (url.includes('/packages/contract/')) return '@phone-auth/contract';
  if (url.includes('/apps/api/')) return '@phone-auth/api';
  if (url.startsWith('node:') || url === '') return 'node (internals, native)';
  return 'other';
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const api = url.indexOf('/apps/api/');
  if (api >= 0) return url.slice(api + 1);
  return url;
}

/** Self time per function and per package of a V8 .cpuprofile (what `node --cpu-prof` writes). */
export async function summariseProfile(file: string, top = 25): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let idle = 0;
  for (const [id, us] of selfUs) if (byId.get(id)?.callFrame.functionName === '(idle)') idle += us;
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) - idle || 1;
  const areas = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; us: number }>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const area = areaOf(node.callFrame);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const fn = node.callFrame.functionName || '(anonymous)';
    const where = node.callFrame.url ? `${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}` : area;
    const key = `${fn}@${where}`;
    const entry = fns.get(key) ?? { fn, where, us: 0 };
    entry.us += us;
    fns.set(key, entry);
  }
  const ms = (us: number) => Math.round(us / 100) / 10;
  const pct = (us: number) => Math.round((us / total) * 1000) / 10;
  return {
    file,
    totalMs: ms(total),
    idleMs: ms(idle),
    byArea: [...areas.entries()].filter(([area]) => area !== '(idle)').sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, ms: ms(us), percent: pct(us) })),
    topFunctions: [...fns.values()]
      .filter((f) => f.fn !== '(idle)')
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ fn: f.fn, where: f.where, ms: ms(f.us), percent: pct(f.us) })),
  };
}

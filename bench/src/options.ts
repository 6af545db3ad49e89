import { parseArgs } from 'node:util';

export const SCENARIOS = ['constant', 'select', 'profile', 'invited-users', 'request-code', 'login', 'refresh', 'activate'];

export const USAGE = `pnpm bench [options]

  --quick                 1 s warm-up + 3 s per endpoint, baselines once: the whole run in under a minute
  --duration <s>          measured seconds per endpoint (default 10; quick 3)
  --warmup <s>            warm-up seconds before each measurement (default 3; quick 1)
  --connections <n>       concurrent connections (default 64)
  --rounds <n>            measure every endpoint and baseline this many times, interleaved; medians
                          are reported (default 3; quick 1)
  --users <n>             users in the seeded invite tree (default 10000; quick 3000)
  --pool <n>              DATABASE_POOL_SIZE of the API and of the one-select baseline (default 24,
                          the size that measured best here; the API's own default is 10)
  --scale-invitees        profile and invited-users for inviters with 0 / 1 000 / 100 000 invitees
  --scale-users           login (and profile) with 10 000 vs --large-users users in the table
  --large-users <n>       table size of the second --scale-users step (default 1000000)
  --cpu-prof              run the API under node --cpu-prof and summarise the profile
  --only <names>          comma-separated: ${SCENARIOS.join(',')}
  --env KEY=VALUE         extra environment for the API (repeatable), e.g. DATABASE_POOL_SIZE=20
  --label <text>          stored in the results (what this run is about)
  --no-build              do not build before running
  --no-write              print only, do not write bench/results
  --results-dir <dir>     where the .json and .md go (default bench/results; --cpu-prof profiles
                          still go to bench/results/profiles)
  --keep-db               keep the bench database (and Redis keys) for inspection instead of dropping them
  --database-url <url>    Postgres to create the bench database in (default postgres://postgres@127.0.0.1:5432/postgres)
  --redis-url <url>       Redis (default redis://127.0.0.1:6379); only keys under the run's own prefix are touched
`;

/** A bad flag: reported as a message and the usage, without a stack trace. */
export class UsageError extends Error {}

/** Runs `parse`, turning parseArgs's unknown-flag and missing-value errors into usage errors. */
function usageErrors<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS_')) throw new UsageError((err as Error).message);
    throw err;
  }
}

export type BenchOptions = ReturnType<typeof parseOptions>;

/**
 * The command line as options, or a UsageError saying what is wrong with it. `help: true` when
 * --help was given (the caller prints USAGE). Defaults come from `env` (BENCH_DATABASE_URL,
 * BENCH_REDIS_URL).
 */
export function parseOptions(args: string[], env: Record<string, string | undefined> = {}) {
  const { values } = usageErrors(() => parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string', default: '64' },
      rounds: { type: 'string' },
      users: { type: 'string' },
      pool: { type: 'string', default: '24' },
      'scale-invitees': { type: 'boolean', default: false },
      'scale-users': { type: 'boolean', default: false },
      'large-users': { type: 'string', default: '1000000' },
      'cpu-prof': { type: 'boolean', default: false },
      only: { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
      label: { type: 'string', default: '' },
      'no-build': { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      'results-dir': { type: 'string' },
      'keep-db': { type: 'boolean', default: false },
      'database-url': { type: 'string', default: env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
      'redis-url': { type: 'string', default: env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
      help: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  }));
  const int = (v: string | undefined, def: number, name: string, min = 0) => {
    const n = v === undefined ? def : v.trim() === '' ? NaN : Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number${min ? ` of at least ${min}` : ''}`);
    return n;
  };
  const apiEnv: Record<string, string> = {};
  for (const kv of values.env) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new UsageError(`--env ${kv}: expected KEY=VALUE`);
    apiEnv[kv.slice(0, i)] = kv.slice(i + 1);
  }
  // Quick: a tree big enough for the reads (256 inviters with 10 invitees each) that seeds in a few
  // seconds; the seed goes through the API's repositories, ~2 400 statements a second here.
  const users = int(values.users, values.quick ? 3_000 : 10_000, 'users');
  if (users < 100 || users > 5_000_000) throw new UsageError('--users must be between 100 and 5000000');
  return {
    help: values.help,
    quick: values.quick,
    duration: int(values.duration, values.quick ? 3 : 10, 'duration', 1),
    warmup: int(values.warmup, values.quick ? 1 : 3, 'warmup'),
    connections: int(values.connections, 64, 'connections', 1),
    rounds: Math.max(1, int(values.rounds, values.quick ? 1 : 3, 'rounds')),
    users,
    pool: Math.max(1, int(values.pool, 24, 'pool')),
    scaleInvitees: values['scale-invitees'],
    scaleUsers: values['scale-users'],
    largeUsers: int(values['large-users'], 1_000_000, 'large-users'),
    cpuProf: values['cpu-prof'],
    only: values.only ? onlyNames(values.only) : null,
    apiEnv,
    label: values.label,
    build: !values['no-build'],
    write: !values['no-write'],
    resultsDir: values['results-dir'] ?? null,
    keepDb: values['keep-db'],
    databaseUrl: values['database-url'],
    redisUrl: values['redis-url'],
  };
}

/** --only: known scenario names, or a message naming the unknown ones. */
function onlyNames(raw: string): Set<string> {
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !SCENARIOS.includes(n));
  if (names.length === 0 || unknown.length) {
    throw new UsageError(`--only: unknown scenario ${unknown.map((n) => `"${n}"`).join(', ') || '(none given)'}; choose from ${SCENARIOS.join(', ')}`);
  }
  return new Set(names);
}

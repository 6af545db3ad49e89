import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Denque from 'denque';
import { summariseProfile, type ProfileSummary } from './cpu-profile.js';
import { measure, type LoadOptions, type Measured, type Scenario } from './load.js';
import { loginAll, type Tokens } from './http.js';
import { apiEnvironment, freePort, runCommand, startNode, type Started } from './processes.js';
import { parseOptions, UsageError, USAGE } from './options.js';
import { aggregateRounds, evaluateTargets, markdown, scaleRows, type ScaleRow } from './report.js';
import {
  analyze,
  countUsers,
  settle,
  createDatabase,
  cursorAfter,
  deleteRedisPrefix,
  dropDatabase,
  freshPhoneOf,
  growTree,
  openDb,
  phoneOf,
  recountInvitees,
  SCALE_INVITERS,
  seedScaleInviters,
} from './seed.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BENCH_DIR = path.resolve(HERE, '..');
const ROOT = path.resolve(BENCH_DIR, '..');

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function dbUrl(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    // The servers, and the seed through the API's repositories, come from these.
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'apps', 'packages', 'bench/src'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  // --help wins over anything else on the line, valid or not.
  if (args.includes('--help')) {
    process.stdout.write(USAGE);
    return;
  }
  const o = parseOptions(args, process.env);
  const started = new Date();
  // Read before the build: the servers run what was checked out then, whatever changes later.
  const commit = gitCommit();
  const stamp = started.toISOString().replace(/:/g, '').replace(/\..*/, 'Z');
  const runId = `${Date.now()}`;
  const dbName = `bench_${runId}`;
  const redisPrefix = `bench:${runId}:`;
  const want = (name: string) => !o.only || o.only.has(name);
  const work = await mkdtemp(path.join(os.tmpdir(), 'phone-auth-bench-'));
  const loadBefore = os.loadavg();

  if (o.build) {
    log('building the API and the contract (turbo)');
    await runCommand('pnpm', ['exec', 'turbo', 'run', 'build', '--filter=@phone-auth/api...', '--output-logs=errors-only'], ROOT);
  }
  const serverJs = path.join(ROOT, 'apps/api/dist/server.js');
  if (!existsSync(serverJs)) throw new Error(`${serverJs} is missing: build first (drop --no-build)`);

  log(`creating database ${dbName}`);
  await createDatabase(o.databaseUrl, dbName);
  const url = dbUrl(o.databaseUrl, dbName);
  const db = openDb(url);
  const servers: Started[] = [];
  // Stops the servers and removes the run's database and Redis keys — once, whether the run ends,
  // fails, or is interrupted (Ctrl-C, or a SIGTERM from whatever started it).
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      for (const s of servers.reverse()) await s.stop();
      await db.destroy();
      if (o.keepDb) {
        log(`kept database ${dbName} and redis keys under ${redisPrefix} (--keep-db)`);
        return;
      }
      log(`dropping database ${dbName}`);
      await dropDatabase(o.databaseUrl, dbName).catch((err: unknown) => log(`could not drop ${dbName}: ${String(err)}`));
      const deleted = await deleteRedisPrefix(o.redisUrl, redisPrefix).catch(() => -1);
      log(`deleted ${deleted} redis keys under ${redisPrefix}`);
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping`);
    void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const profileDir = path.join(work, 'cpu-prof');

  const rounds: { round: number; m: Measured }[] = [];
  const scale: ScaleRow[] = [];
  let profile: ProfileSummary | null = null;
  let poolSize = o.pool;
  let usersAtRounds = o.users;

  try {
    const apiPort = await freePort();
    const apiEnv = apiEnvironment({
      port: apiPort,
      dataDir: path.join(work, 'data'),
      databaseUrl: url,
      redisUrl: o.redisUrl,
      redisKeyPrefix: redisPrefix,
      pool: o.pool,
      overrides: o.apiEnv,
    });
    poolSize = Number(apiEnv.DATABASE_POOL_SIZE ?? 10);
    const nodeFlags = o.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    log(`starting the API${o.cpuProf ? ' under --cpu-prof' : ''} (migrations run on start)`);
    const api = await startNode({
      name: 'api',
      args: [...nodeFlags, serverJs],
      env: apiEnv,
      port: apiPort,
      readyPath: '/.well-known/jwks.json',
      logFile: path.join(work, 'api.log'),
      cwd: ROOT,
    });
    servers.push(api);
    const basePort = await freePort();
    const baseline = await startNode({
      name: 'baseline',
      args: ['--import', 'tsx', path.join(HERE, 'baseline-server.ts')],
      env: { PORT: String(basePort), DATABASE_URL: url, DATABASE_POOL_SIZE: String(poolSize), NODE_ENV: 'production' },
      port: basePort,
      readyPath: '/constant',
      logFile: path.join(work, 'baseline.log'),
      cwd: BENCH_DIR,
    });
    servers.push(baseline);

    log(`seeding ${o.users} users through the API's repositories (a login, a refresh and an activation each; 10 invitees per inviter)`);
    let t = Date.now();
    // Loaded here, after the build: it imports the API's repositories, which need the contract built.
    const { seedUsers } = await import('./seed-users.js');
    await seedUsers(db, o.users);
    await analyze(db);
    log(`seeded in ${Date.now() - t} ms`);

    const load: LoadOptions = { url: api.url, connections: o.connections, durationSeconds: o.duration, warmupSeconds: o.warmup, serverPid: api.child.pid };
    const baseLoad: LoadOptions = { ...load, url: baseline.url, serverPid: baseline.child.pid };
    let fresh = 0;

    let si = 0;
    const constantScenario: Scenario = { name: 'baseline: constant', method: 'GET', path: '/constant' };
    const selectScenario: Scenario = {
      name: 'baseline: one select',
      method: 'GET',
      path: '/select',
      next: () => ({ path: `/select?phone=${encodeURIComponent(phoneOf((si++ % o.users) + 1))}` }),
    };

    // One-time inputs flow from one endpoint to the next: codes from POST /auth/ feed PUT /auth/,
    // whose tokens feed POST /auth/refresh (each rotation hands back a new one) and POST /profile/.
    // FIFO queues, taken from the front once per request. Not arrays: past ~16 000 entries an
    // array's backing store lives in V8's large-object space, where shift() cannot move the
    // array's start and copies every entry instead — the load generator then spent ~40 % of its
    // CPU in shift() during PUT /auth/ (perf), CPU taken from the server on the same two cores.
    const codes = new Denque<{ phone: string; code: string }>();
    const access = new Denque<string>();
    const refresh = new Denque<string>();

    const requestCode = (name = 'POST /auth/'): Scenario => ({
      name,
      method: 'POST',
      path: '/auth/',
      next: (ctx) => {
        const phone = freshPhoneOf(++fresh);
        ctx.phone = phone;
        return { body: { phone_number: phone } };
      },
      onResponse: (status, body, ctx) => {
        if (status === 200) codes.push({ phone: ctx.phone as string, code: (JSON.parse(body) as { otp_code: string }).otp_code });
      },
      note: 'a new phone per request; the code comes back in the response (console provider)',
    });
    const login = (name = 'PUT /auth/'): Scenario => ({
      name,
      method: 'PUT',
      path: '/auth/',
      next: () => {
        const c = codes.shift();
        return c ? { body: { phone_number: c.phone, otp_code: c.code } } : null;
      },
      onResponse: (status, body) => {
        if (status !== 200) return;
        const t = JSON.parse(body) as Tokens;
        access.push(t.access_token);
        refresh.push(t.refresh_token);
      },
      note: 'first login of a new phone: code check, user creation, session, token pair',
    });

    // Tokens of seeded inviters (10 invitees each) for the authenticated read endpoints.
    const readers = Math.min(256, Math.floor(o.users / 10));
    log(`logging in ${readers} seeded users for the read endpoints`);
    const readerTokens = (await loginAll(api.url, Array.from({ length: readers }, (_, i) => phoneOf(i + 1)))).map((x) => x.access_token);
    let ri = 0;
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const profileScenario = (name = 'GET /profile/', tokens = readerTokens): Scenario => ({
      name,
      method: 'GET',
      path: '/profile/',
      next: () => ({ headers: bearer(tokens[ri++ % tokens.length] as string) }),
      note: tokens === readerTokens ? `${readers} users round-robin, 10 invitees each` : undefined,
    });
    const invitedScenario = (name = 'GET /profile/invited-users', tokens = readerTokens, query = 'limit=100'): Scenario => ({
      name,
      method: 'GET',
      path: `/profile/invited-users?${query}`,
      next: () => ({ headers: bearer(tokens[ri++ % tokens.length] as string) }),
    });

    // Codes of seeded users whose profiles are not read: the readers' profiles must keep their 10
    // invitees through every round, or the reads would carry more phones round after round.
    const inviteCodes = (
      await db
        .selectFrom('users')
        .select('invite_code')
        .where('phone_number', '>', phoneOf(readers))
        .where('phone_number', '<=', phoneOf(o.users))
        .orderBy('phone_number')
        .limit(1000)
        .execute()
    ).map((r) => r.invite_code);
    let ai = 0;

    // Rounds: every scenario once per round, in the same order, each round's ratios against that
    // round's baselines; the medians are reported. Other work on the machine shifts the absolute
    // numbers from minute to minute; the ratios measured side by side are what hold.
    const plan: { scenario: Scenario; load: LoadOptions; baseline: boolean; keep: boolean; when: boolean }[] = [
      { scenario: constantScenario, load: baseLoad, baseline: true, keep: true, when: want('constant') },
      { scenario: selectScenario, load: baseLoad, baseline: true, keep: true, when: want('select') },
      { scenario: profileScenario(), load, baseline: false, keep: true, when: want('profile') },
      { scenario: invitedScenario(), load, baseline: false, keep: true, when: want('invited-users') },
      {
        scenario: requestCode(),
        load,
        baseline: false,
        keep: want('request-code'),
        when: want('request-code') || want('login') || want('refresh') || want('activate'),
      },
      { scenario: login(), load, baseline: false, keep: want('login'), when: want('login') || want('refresh') || want('activate') },
      {
        scenario: {
          name: 'POST /auth/refresh',
          method: 'POST',
          path: '/auth/refresh',
          next: () => {
            const token = refresh.shift();
            return token ? { body: { refresh_token: token } } : null;
          },
          onResponse: (status, body) => {
            if (status === 200) refresh.push((JSON.parse(body) as Tokens).refresh_token);
          },
          note: 'each refresh token once; the rotated one goes back in the pool',
        },
        load,
        baseline: false,
        keep: true,
        when: want('refresh'),
      },
      {
        scenario: {
          name: 'POST /profile/',
          method: 'POST',
          path: '/profile/',
          next: () => {
            const token = access.shift();
            const code = inviteCodes[ai++ % inviteCodes.length] as string;
            return token ? { headers: bearer(token), body: { other_profile_invite_code: code } } : null;
          },
          note: 'each fresh user activates one seeded user’s code (once, as the rules allow)',
        },
        load,
        baseline: false,
        keep: true,
        when: want('activate'),
      },
    ];
    // Scale run over the users table: the small step on the freshly seeded table, then the table
    // grown to --large-users and the same step again — back to back, before the rounds, so the two
    // steps differ in the users table only. (After the rounds, the sessions, tokens and audit rows
    // those write, autovacuum and checkpoints would weigh on the second step alone.) With
    // --scale-users the rounds below therefore run on the grown table; the results say how big.
    const userRuns: { size: string; m: Measured }[] = [];
    const userStep = async () => {
      const users = await countUsers(db);
      const size = `${users.toLocaleString('en')} users`;
      log(`scale: ${size}`);
      userRuns.push({ size, m: await measure(requestCode(), load) });
      userRuns.push({ size, m: await measure(login(), load) });
      userRuns.push({ size, m: await measure(profileScenario(), load) });
    };
    if (o.scaleUsers) {
      await userStep();
      if (o.largeUsers > o.users) {
        log(`scale: growing the table to ${o.largeUsers} users`);
        t = Date.now();
        await growTree(db, o.users + 1, o.largeUsers, o.largeUsers);
        await recountInvitees(db, Math.floor(o.users / 10), Math.floor(o.largeUsers / 10), o.largeUsers);
        // Settle the bulk insert before measuring: vacuum (visibility map, statistics) and a
        // checkpoint, so its WAL is not being flushed while the next step runs.
        await settle(db);
        log(`seeded in ${Date.now() - t} ms`);
        await userStep();
      }
      scale.push(...scaleRows('users in the table', userRuns));
    }

    usersAtRounds = await countUsers(db);
    for (let round = 1; round <= o.rounds; round++) {
      for (const step of plan.filter((p) => p.when)) {
        log(`round ${round}/${o.rounds}: ${step.scenario.name}`);
        const m = await measure(step.scenario, { ...step.load, warmupSeconds: round === 1 ? step.load.warmupSeconds : 0 });
        if (step.keep) rounds.push({ round, m });
      }
    }

    if (o.scaleInvitees) {
      log('scale: seeding inviters with 0 / 1 000 / 100 000 invitees');
      t = Date.now();
      await seedScaleInviters(db);
      await settle(db);
      log(`seeded in ${Date.now() - t} ms`);
      const tokens = await loginAll(api.url, SCALE_INVITERS.map((s) => phoneOf(s.n)), 3);
      // The sizes are measured in interleaved rounds, like the endpoints, and each row is the
      // median over the rounds: measured one after the other, the sizes minutes apart differed by
      // the machine's drift as much as by their data (a 0-invitee profile once cost more CPU than
      // a 1 000-invitee one).
      const bySize = new Map<string, { round: number; m: Measured }[]>();
      for (let round = 1; round <= o.rounds; round++) {
        for (const [i, inviter] of SCALE_INVITERS.entries()) {
          const tok = [tokens[i]?.access_token as string];
          const size = `${inviter.invitees.toLocaleString('en')} invitees`;
          const runs = bySize.get(size) ?? [];
          bySize.set(size, runs);
          const step = { ...load, warmupSeconds: round === 1 ? load.warmupSeconds : 0 };
          log(`scale, round ${round}/${o.rounds}: ${size}`);
          runs.push({ round, m: await measure(profileScenario('GET /profile/', tok), step) });
          runs.push({ round, m: await measure(invitedScenario('GET /profile/invited-users', tok), step) });
          if (inviter.invitees >= 1000) {
            const mid = inviter.firstInvitee + Math.floor(inviter.invitees / 2);
            const query = `limit=100&cursor=${cursorAfter(mid)}`;
            runs.push({ round, m: await measure(invitedScenario('GET /profile/invited-users (page from the middle)', tok, query), step) });
          }
        }
      }
      const medians = [...bySize].flatMap(([size, runs]) => aggregateRounds(runs).map((m) => ({ size, m })));
      scale.push(...scaleRows('invitees per inviter', medians));
    }

  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanUp();
  }

  if (o.cpuProf && existsSync(profileDir)) {
    const file = (await readdir(profileDir)).find((f) => f.endsWith('.cpuprofile'));
    if (file) {
      const keepDir = path.join(BENCH_DIR, 'results', 'profiles');
      await mkdir(keepDir, { recursive: true });
      const kept = path.join(keepDir, `${stamp}.cpuprofile`);
      await writeFile(kept, await readFile(path.join(profileDir, file)));
      profile = await summariseProfile(kept);
      profile.file = path.relative(ROOT, kept);
    }
  }
  await rm(work, { recursive: true, force: true });

  const rows = aggregateRounds(rounds);
  const targets = evaluateTargets(rows, scale);
  const optimisationsFile = path.join(BENCH_DIR, 'optimisations.json');
  const optimisations = existsSync(optimisationsFile) ? (JSON.parse(await readFile(optimisationsFile, 'utf8')) as unknown) : [];

  const meta = {
    date: started.toISOString(),
    label: o.label,
    commit,
    mode: o.quick ? 'quick' : 'full',
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    loadAverageBefore: loadBefore.map((x) => Math.round(x * 100) / 100),
    loadAverageAfter: os.loadavg().map((x) => Math.round(x * 100) / 100),
    connections: o.connections,
    durationSeconds: o.duration,
    warmupSeconds: o.warmup,
    rounds: o.rounds,
    seededUsers: o.users,
    usersAtRounds,
    databasePoolSize: poolSize,
    apiEnvOverrides: o.apiEnv,
  };
  const header =
    `Run ${meta.date} (${meta.mode}${o.label ? `, ${o.label}` : ''}), commit ${meta.commit}, Node ${meta.node}, ${meta.cpus} CPUs, ` +
    `load average ${meta.loadAverageBefore[0]} → ${meta.loadAverageAfter[0]}; ${o.connections} connections, ` +
    `${o.rounds} round(s) of ${o.duration} s per endpoint (medians; ${o.warmup} s warm-up first); pool ${poolSize}; ${o.users.toLocaleString('en')} seeded users` +
    (usersAtRounds !== o.users ? `, ${usersAtRounds.toLocaleString('en')} in the table when the rounds ran.` : '.');
  const md = markdown(rows, scale, targets, header);
  process.stdout.write(`\n${md}`);
  if (profile) {
    process.stdout.write(`\nCPU profile (${profile.file}): busy ${profile.totalMs} ms, idle ${profile.idleMs} ms; self time by area (% of busy):\n`);
    for (const a of profile.byArea.slice(0, 12)) process.stdout.write(`  ${a.percent.toString().padStart(5)}%  ${a.area}\n`);
    process.stdout.write('top functions:\n');
    for (const f of profile.topFunctions.slice(0, 15)) process.stdout.write(`  ${f.percent.toString().padStart(5)}%  ${f.fn}  ${f.where}\n`);
  }
  if (o.write) {
    // A relative --results-dir is taken from where `pnpm bench` was run (pnpm runs the script in
    // bench/ and says where it was called from in INIT_CWD).
    const dir = o.resultsDir ? path.resolve(process.env.INIT_CWD ?? process.cwd(), o.resultsDir) : path.join(BENCH_DIR, 'results');
    await mkdir(dir, { recursive: true });
    const base = `${stamp}${o.quick ? '-quick' : ''}`;
    await writeFile(
      path.join(dir, `${base}.json`),
      `${JSON.stringify({ meta, endpoints: rows, scale, targets, cpuProfile: profile, optimisations, rounds }, null, 2)}\n`,
    );
    await writeFile(path.join(dir, `${base}.md`), md);
    log(`wrote ${path.relative(process.env.INIT_CWD ?? process.cwd(), path.join(dir, base))}.json and .md`);
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`pnpm bench: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

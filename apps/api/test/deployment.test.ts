import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig, REPO_ROOT } from '../src/config.js';

const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');

/** `.env.example`: active `NAME=value` lines and commented `# NAME=…` lines (no fixed default). */
function parseEnvExample(text: string) {
  const active = new Map<string, string>();
  const commented = new Set<string>();
  for (const line of text.split('\n')) {
    const on = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (on?.[1] !== undefined && on[2] !== undefined) {
      if (active.has(on[1])) throw new Error(`.env.example lists ${on[1]} twice`);
      active.set(on[1], on[2]);
      continue;
    }
    const off = /^# ?([A-Z][A-Z0-9_]*)=/.exec(line);
    if (off?.[1]) commented.add(off[1]);
  }
  return { active, commented };
}

/** The README's configuration table: variable → default cell. */
function parseReadmeTable(text: string): { rows: Map<string, string>; duplicates: string[] } {
  const section = text.split(/^## /m).find((s) => s.startsWith('Configuration\n'));
  if (!section) throw new Error('README has no "## Configuration" section');
  const rows = new Map<string, string>();
  const duplicates: string[] = [];
  for (const line of section.split('\n')) {
    const match = /^\| `([A-Z][A-Z0-9_]*)` \| ([^|]*) \|/.exec(line);
    if (!match?.[1]) continue;
    if (rows.has(match[1])) duplicates.push(match[1]);
    rows.set(match[1], (match[2] ?? '').trim());
  }
  return { rows, duplicates };
}

const sorted = (names: Iterable<string>) => [...names].sort();

describe('configuration documentation', () => {
  const variables = new Set<string>(CONFIG_VARIABLES);
  const env = parseEnvExample(read('.env.example'));
  const readme = parseReadmeTable(read('README.md'));

  it('config.ts exports the variables it reads', () => {
    expect(CONFIG_VARIABLES).toContain('PORT');
    expect(CONFIG_VARIABLES).toContain('SHUTDOWN_TIMEOUT_MS');
    expect(new Set(CONFIG_VARIABLES).size).toBe(CONFIG_VARIABLES.length);
  });

  it('.env.example lists exactly the variables of config.ts', () => {
    const listed = new Set([...env.active.keys(), ...env.commented]);
    expect(sorted([...variables].filter((v) => !listed.has(v))), 'missing from .env.example').toEqual([]);
    expect(sorted([...listed].filter((v) => !variables.has(v))), 'in .env.example but unknown to config.ts').toEqual([]);
    expect([...env.active.keys()].filter((v) => env.commented.has(v)), 'both set and commented').toEqual([]);
  });

  it("the README's configuration table lists exactly the variables of config.ts, once each", () => {
    expect(readme.duplicates, 'rows listed twice').toEqual([]);
    expect(sorted([...variables].filter((v) => !readme.rows.has(v))), 'missing from the README table').toEqual([]);
    expect(sorted([...readme.rows.keys()].filter((v) => !variables.has(v))), 'in the README but unknown to config.ts').toEqual([]);
  });

  it('.env.example values are the defaults: loading it gives the same configuration as an empty environment', () => {
    const fromExample = loadConfig(Object.fromEntries(env.active));
    expect(fromExample).toEqual(loadConfig({}));
  });

  it('the README states the same defaults as .env.example', () => {
    for (const [name, value] of env.active) {
      expect(readme.rows.get(name), name).toBe(`\`${value}\``);
    }
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml')) as {
    services: Record<string, any>;
    volumes?: Record<string, unknown>;
  };

  it('has the api, postgres and redis services, each with a healthcheck', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'postgres', 'redis']);
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.healthcheck?.test, `${name} healthcheck`).toBeDefined();
      expect(service.healthcheck.interval, `${name} healthcheck interval`).toMatch(/^\d+s$/);
    }
    expect(compose.services.postgres.healthcheck.test.join(' ')).toContain('pg_isready');
    expect(compose.services.redis.healthcheck.test.join(' ')).toContain('redis-cli ping');
    expect(compose.services.api.healthcheck.test.join(' ')).toContain('/health/ready');
  });

  it('starts the api only once Postgres and Redis are healthy', () => {
    expect(compose.services.api.depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
  });

  it('keeps Postgres data on a named volume', () => {
    const mounts: string[] = compose.services.postgres.volumes;
    const volume = mounts.find((m) => m.endsWith(':/var/lib/postgresql/data'))?.split(':')[0];
    expect(volume).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(volume);
  });

  it('gives the api an environment config.ts accepts, pointing at the compose services', () => {
    const environment: Record<string, string> = compose.services.api.environment;
    const unknown = Object.keys(environment).filter((k) => !(CONFIG_VARIABLES as readonly string[]).includes(k));
    expect(unknown, 'variables config.ts does not read').toEqual([]);
    // Interpolate ${VAR:-default} as compose does with nothing set, then validate.
    const resolved = Object.fromEntries(
      Object.entries(environment).map(([k, v]) => [k, String(v).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')]),
    );
    const config = loadConfig(resolved);
    expect(config.host).toBe('0.0.0.0');
    expect(config.database.url).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
    expect(config.redis.url).toBe('redis://redis:6379');
    expect(config.database.migrateOnStart).toBe(true);
    expect(compose.services.api.ports).toEqual([expect.stringMatching(/:3000$/)]);
    // The grace period outlasts the shutdown timeout, so in-flight requests finish before SIGKILL.
    expect(Number.parseInt(compose.services.api.stop_grace_period, 10) * 1000).toBeGreaterThan(config.ops.shutdownTimeoutMs);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)];

  it('is multi-stage, deploys production dependencies only, and runs the compiled server as non-root', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/pnpm --filter @phone-auth\/api deploy --prod/);
    const runtime = dockerfile.slice(stages.at(-1)!.index);
    expect(runtime).toMatch(/^USER\s+node$/m);
    expect(runtime).toMatch(/HOST=0\.0\.0\.0/);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*\/health\/live/m);
    expect(runtime).toMatch(/^CMD \["node", "dist\/server\.js"\]$/m);
    expect(runtime).not.toMatch(/tsx/);
  });

  it('runs what the production build produces', () => {
    const api = JSON.parse(read('apps/api/package.json')) as { scripts: Record<string, string>; files?: string[] };
    expect(api.scripts['start:prod']).toBe('node dist/server.js');
    expect(api.files).toContain('dist');
    const root = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(root.scripts['start:prod']).toContain('start:prod');
    const ignore = read('.dockerignore');
    expect(ignore).toMatch(/node_modules/);
    expect(ignore).toMatch(/^\.env$/m);
  });
});

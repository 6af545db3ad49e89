import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql, type PostgresPool, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import type { Config } from '../config.js';
import type { Logger } from '../lib/logger.js';
import { PGliteDialect } from './pglite-dialect.js';
import type { Database } from './types.js';

export interface DatabaseHandle {
  db: Kysely<Database>;
  kind: 'postgres' | 'pglite';
  /** Human description for the start-up log (no credentials). */
  description: string;
  /** Cheap reachability check for readiness probes. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

// timestamptz → Date, bigint (count(*)) → number: counts here never approach 2^53.
pg.types.setTypeParser(20, (v: string) => Number(v));

/** Distinct statements prepared per connection at most; later new texts run unnamed. */
const MAX_PREPARED_STATEMENTS = 500;

/**
 * The pool as Kysely sees it, with every statement run as a named prepared statement: Postgres
 * parses and plans a statement once per connection instead of on every execution (bench: GET
 * /profile/ +25 % req/s). Kysely compiles to parameterised SQL, so the set of texts is small and
 * fixed; each text gets one name for the life of the process, and the pg client prepares it on a
 * connection the first time that connection runs it. A process preparing more than
 * MAX_PREPARED_STATEMENTS distinct texts runs the rest unnamed, so nothing grows without bound.
 *
 * Off (DATABASE_PREPARED_STATEMENTS=false) for poolers that do not keep prepared statements across
 * transactions (PgBouncer in transaction mode before 1.21).
 */
export function preparingPool(pool: pg.Pool): PostgresPool {
  const names = new Map<string, string>();
  const nameOf = (text: string): string | undefined => {
    let name = names.get(text);
    if (name === undefined && names.size < MAX_PREPARED_STATEMENTS) {
      name = `pa_${names.size}`;
      names.set(text, name);
    }
    return name;
  };
  // One wrapper per pooled connection, made once: Kysely keeps its own connection object per
  // client it is handed (a WeakMap keyed by it), so a new wrapper on every checkout would make it
  // build and remember a new one for every statement.
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const wrap = (client: pg.PoolClient) =>
    ({
      query: (text: string | object, values?: unknown[]) =>
        // A cursor (Kysely's stream()) is passed through as it is.
        typeof text === 'string' ? client.query({ name: nameOf(text), text, values }) : client.query(text as never),
      release: (err?: Error | boolean) => client.release(err),
    }) as unknown as PostgresPoolClient;
  return {
    async connect() {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (!wrapper) {
        wrapper = wrap(client);
        wrappers.set(client, wrapper);
      }
      return wrapper;
    },
    end: () => pool.end(),
  };
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable)';
  }
}

export async function createDatabase(
  config: Pick<Config, 'database' | 'dataDir'>,
  log: Logger,
): Promise<DatabaseHandle> {
  const { url, schema, poolSize, preparedStatements } = config.database;

  if (url && !url.startsWith('memory://')) {
    const pool = new pg.Pool({
      connectionString: url,
      max: poolSize,
      // Fail fast instead of hanging when Postgres is down; the error handler answers 503.
      connectionTimeoutMillis: 3000,
      idleTimeoutMillis: 30_000,
      statement_timeout: 10_000,
      query_timeout: 12_000,
      // Each connection works in the configured schema (tests use one schema per file).
      options: schema === 'public' ? undefined : `-c search_path=${schema}`,
      application_name: 'phone-auth-api',
    });
    // An idle client losing its connection emits 'error' on the pool; without a listener that
    // would crash the process. The pool replaces the client by itself.
    pool.on('error', (err) => log.warn({ err: { message: err.message } }, 'postgres idle client error'));
    // The pool's listener is detached while a client is checked out (by Kysely, between the
    // statements of a transaction). A connection lost right then — Postgres restarting sends
    // 57P01 to every backend — is emitted as 'error' on the client itself, and with no listener
    // that crashes the process (found by test/faults.test.ts). This listener only keeps the
    // process alive: the pending or next query fails (the API answers 503), and the pool
    // discards the dead client when it is released.
    pool.on('connect', (client) => {
      client.on('error', (err) => log.warn({ err: { message: err.message } }, 'postgres connection lost'));
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparedStatements ? preparingPool(pool) : pool }) });
    if (schema !== 'public') {
      // CREATE SCHEMA IF NOT EXISTS is not safe against itself: replicas starting at once can all
      // see no schema, and all but one then fail on pg_namespace's unique index. A transaction
      // lock on the schema's name makes them take turns; the later ones find it there.
      await db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(hashtext(${`phone-auth:create-schema:${schema}`}))`.execute(trx);
        await sql`create schema if not exists ${sql.id(schema)}`.execute(trx);
      });
    }
    return {
      db,
      kind: 'postgres',
      description: `postgres ${redactUrl(url)}${schema === 'public' ? '' : ` schema ${schema}`}`,
      ping: async () => {
        await sql`select 1`.execute(db);
      },
      close: () => db.destroy(),
    };
  }

  const inMemory = url?.startsWith('memory://') ?? false;
  const dir = path.join(config.dataDir, 'pglite');
  if (!inMemory) await mkdir(dir, { recursive: true });
  const client = inMemory ? new PGlite() : new PGlite(dir);
  await client.waitReady;
  if (schema !== 'public') {
    await client.exec(`create schema if not exists "${schema}"; set search_path to "${schema}"`);
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  return {
    db,
    kind: 'pglite',
    description: inMemory ? 'embedded PGlite (in memory)' : `embedded PGlite in ${dir}`,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}

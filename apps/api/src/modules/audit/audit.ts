import type { AuditEventType as AuditEventTypeSchema } from '@phone-auth/contract';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import type { Database } from '../../db/types.js';
import type { Clock } from '../../lib/clock.js';
import { isDependencyDown } from '../../lib/dependency-errors.js';
import type { Logger } from '../../lib/logger.js';

/** Event types come from the contract, so the admin API's filter and the writers agree. */
export type AuditEventType = z.infer<typeof AuditEventTypeSchema>;

export interface AuditEvent {
  type: AuditEventType;
  userId?: string | null;
  /** E.164. Never put a code, a token or a secret in an event. */
  phone?: string | null;
  ip?: string | null;
  details?: Record<string, string | number | boolean | null>;
}

export interface AuditLog {
  record(event: AuditEvent): Promise<void>;
  /**
   * Shutdown, before the pool closes: lets the rows queued so far be written for at most
   * `timeoutMs`, then stops retrying. What is left is logged as not written.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** Most rows one batched insert carries. */
const MAX_BATCH = 500;

export interface AuditTiming {
  /** Longest a request waits for its row; past it the row is written in the background. */
  waitMs: number;
  /** Pause between attempts while the database is unreachable. */
  retryMs: number;
  /** Events kept while the database is unreachable; past this, new events are dropped (logged). */
  maxQueued: number;
}

const DEFAULT_TIMING: AuditTiming = { waitMs: 2_000, retryMs: 1_000, maxQueued: 10_000 };

type AuditRow = {
  type: string;
  user_id: string | null;
  phone_number: string | null;
  ip: string | null;
  details: string | null;
  created_at: Date;
};

type Entry = { row: AuditRow; done: () => void; /** Date.now() when recorded. */ at: number };

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/**
 * Writes audit events to Postgres. A failed write is logged and swallowed: the audit trail must
 * not turn a successful login into an error (the failure is visible in the logs and metrics).
 *
 * Group writes: `record` resolves once its row is committed, but events recorded while an insert
 * is in flight wait for it and then go together in one multi-row insert — one round trip and one
 * commit (one WAL flush) for the whole group instead of one each. An idle log writes at once, so a
 * lone event waits no longer than one insert; under load the commits per request drop (bench:
 * Performance). Rows keep the order of `record` calls.
 *
 * When things go wrong:
 * - a request waits for its row at most `waitMs` from when it recorded it (a database that stalls
 *   instead of refusing); the row is still written when the database answers;
 * - a group that fails on its data (a bad row) is retried row by row, so one bad row cannot take
 *   the others down with it;
 * - rows that could not be written because the database is unreachable are kept, ahead of newer
 *   events, and tried again every `retryMs` until it is back — at most `maxQueued` events in all,
 *   newer ones are dropped with a warning — and meanwhile `record` does not wait at all.
 */
export function createAuditLog(deps: { db: Kysely<Database>; clock: Clock; log: Logger; timing?: Partial<AuditTiming> }): AuditLog {
  const { db, clock, log } = deps;
  const timing = { ...DEFAULT_TIMING, ...deps.timing };
  let queue: Entry[] = [];
  /** The group being written (counted against maxQueued, released by its timer). */
  let inFlight: Entry[] = [];
  let flushing = false;
  /** The flush in progress, for close() to wait on. */
  let current: Promise<void> | null = null;
  /** The group in flight has been waited on for waitMs: new events do not wait for it. */
  let stalled = false;
  /** The database was unreachable at the last attempt and has not answered since. */
  let outage = false;
  /** close() was called: an unreachable database is final. */
  let closed = false;
  /** close() gave up waiting: the loop writes nothing more. */
  let stopped = false;
  let dropped = 0;

  async function insert(rows: AuditRow[]): Promise<void> {
    await db.insertInto('audit_events').values(rows).execute();
  }

  const releaseAll = () => {
    for (const e of inFlight) e.done();
    for (const e of queue) e.done();
  };

  /** Gives up on everything not written yet (closing), saying how much. */
  function abandon(why: string, err?: unknown) {
    const lost = inFlight.length + queue.length;
    releaseAll();
    queue = [];
    inFlight = [];
    if (lost > 0) log.warn({ events: lost, ...(err ? { err: { message: (err as Error).message } } : {}) }, `audit events not written: ${why}`);
  }

  /**
   * Writes a group; returns the rows left unwritten because the database is unreachable (from the
   * first such failure on), with that error, or null when the database answered for every row.
   */
  async function write(batch: Entry[]): Promise<{ rest: Entry[]; err: unknown } | null> {
    try {
      await insert(batch.map((b) => b.row));
      return null;
    } catch (err) {
      // While closing, any failure is final (the pool may be gone already): no row-by-row retry.
      if (isDependencyDown(err) || closed) return { rest: batch, err };
    }
    for (const [i, { row }] of batch.entries()) {
      if (stopped) return null;
      try {
        await insert([row]);
      } catch (err) {
        if (isDependencyDown(err) || closed) return { rest: batch.slice(i), err };
        log.warn({ type: row.type, err: { message: (err as Error).message } }, 'audit write failed');
      }
    }
    return null;
  }

  async function flush(): Promise<void> {
    // `flushing` turns false in the same turn as the last group's done(): the loop ends right
    // after it and the finally runs at once, so a request resumed by that done() which records
    // again starts a new flush instead of joining a queue nobody drains.
    flushing = true;
    try {
      while (queue.length > 0 && !stopped) {
        inFlight = queue.splice(0, MAX_BATCH);
        // The group's oldest event sets the deadline; every other pending event is younger.
        const release = setTimeout(() => {
          stalled = true;
          releaseAll();
        }, Math.max(0, (inFlight[0] as Entry).at + timing.waitMs - Date.now())).unref();
        let failed: Awaited<ReturnType<typeof write>>;
        try {
          failed = await write(inFlight);
        } finally {
          clearTimeout(release);
          stalled = false;
        }
        if (stopped) return;
        for (const e of inFlight) e.done();
        if (!failed) {
          inFlight = [];
          if (outage) {
            outage = false;
            log.info({}, 'audit writes recovered');
          }
          continue;
        }
        inFlight = failed.rest;
        if (closed) {
          abandon('the database is unavailable and the server is closing', failed.err);
          return;
        }
        if (!outage) {
          outage = true;
          releaseAll();
          log.warn({ events: inFlight.length + queue.length, err: { message: (failed.err as Error).message } }, 'audit writes failing: the database is unavailable; events kept and retried');
        }
        queue = inFlight.concat(queue);
        inFlight = [];
        await sleep(timing.retryMs);
      }
    } finally {
      flushing = false;
    }
  }

  return {
    record(event) {
      if (stopped || queue.length + inFlight.length >= timing.maxQueued) {
        dropped++;
        if (dropped === 1 || dropped % 1000 === 0) log.warn({ type: event.type, dropped }, stopped ? 'audit log closed: event dropped' : 'audit queue full: event dropped');
        return Promise.resolve();
      }
      const row: AuditRow = {
        type: event.type,
        user_id: event.userId ?? null,
        phone_number: event.phone ?? null,
        ip: event.ip ?? null,
        details: event.details ? JSON.stringify(event.details) : null,
        created_at: new Date(clock.now()),
      };
      return new Promise<void>((resolve) => {
        queue.push({ row, done: resolve, at: Date.now() });
        if (!flushing) {
          current = flush();
        } else if (outage || stalled) {
          // The database is away or stalled: the row waits in the queue, the request does not.
          resolve();
        }
      });
    },

    async close(timeoutMs = 2_000) {
      closed = true;
      if (!flushing || !current) return;
      const finished = await Promise.race([current.then(() => true), sleep(timeoutMs).then(() => false)]);
      if (!finished) {
        stopped = true;
        abandon('the server is closing and the database did not take them in time');
      }
    },
  };
}

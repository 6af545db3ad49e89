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

type Entry = { row: AuditRow; done: () => void };

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
 * - a group that fails on its data (a bad row) is retried row by row, so one bad row cannot take
 *   the others down with it;
 * - a group that fails because the database is unreachable is kept, ahead of newer events, and
 *   tried again every `retryMs` until it is back — at most `maxQueued` events are kept, newer ones
 *   are dropped with a warning — and meanwhile `record` does not wait: a request that already
 *   sent its SMS must not hang on the audit trail;
 * - a database that stalls instead of refusing holds a request at most `waitMs`; its row is still
 *   written when the database answers.
 */
export function createAuditLog(deps: { db: Kysely<Database>; clock: Clock; log: Logger; timing?: Partial<AuditTiming> }): AuditLog {
  const { db, clock, log } = deps;
  const timing = { ...DEFAULT_TIMING, ...deps.timing };
  let queue: Entry[] = [];
  let flushing = false;
  /** The flush in progress, for close() to wait on. */
  let current: Promise<void> | null = null;
  /** The insert in flight has taken longer than waitMs. */
  let stalled = false;
  /** The last group failed because the database was unreachable, and has not been written since. */
  let outage = false;
  let closed = false;
  let dropped = 0;

  async function insert(rows: AuditRow[]): Promise<void> {
    await db.insertInto('audit_events').values(rows).execute();
  }

  const releaseQueued = () => {
    for (const q of queue) q.done();
  };

  async function flush(): Promise<void> {
    // `flushing` turns false in the same turn as the last group's done(): the loop ends right
    // after it and the finally runs at once, so a request resumed by that done() which records
    // again starts a new flush instead of joining a queue nobody drains.
    flushing = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, MAX_BATCH);
        // A stalled database must not hold the requests waiting on this group or behind it.
        const release = setTimeout(() => {
          stalled = true;
          for (const b of batch) b.done();
          releaseQueued();
        }, timing.waitMs).unref();
        try {
          await insert(batch.map((b) => b.row));
          if (outage) {
            outage = false;
            log.info({}, 'audit writes recovered');
          }
        } catch (err) {
          if (isDependencyDown(err)) {
            for (const b of batch) b.done();
            if (closed) {
              const lost = batch.length + queue.length;
              releaseQueued();
              queue = [];
              log.warn({ events: lost, err: { message: (err as Error).message } }, 'audit events not written: the database is unavailable and the server is closing');
              return;
            }
            if (!outage) {
              outage = true;
              releaseQueued();
              log.warn({ events: batch.length + queue.length, err: { message: (err as Error).message } }, 'audit writes failing: the database is unavailable; events kept and retried');
            }
            queue = batch.concat(queue);
            clearTimeout(release);
            stalled = false;
            await sleep(timing.retryMs);
            continue;
          }
          for (const { row } of batch) {
            try {
              await insert([row]);
            } catch (rowErr) {
              log.warn({ type: row.type, err: { message: (rowErr as Error).message } }, 'audit write failed');
            }
          }
        } finally {
          clearTimeout(release);
          stalled = false;
        }
        for (const b of batch) b.done();
      }
    } finally {
      flushing = false;
    }
  }

  return {
    record(event) {
      if (queue.length >= timing.maxQueued) {
        dropped++;
        if (dropped === 1 || dropped % 1000 === 0) log.warn({ type: event.type, dropped }, 'audit queue full: event dropped');
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
        queue.push({ row, done: resolve });
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
      if (flushing && current) await Promise.race([current, sleep(timeoutMs)]);
    },
  };
}

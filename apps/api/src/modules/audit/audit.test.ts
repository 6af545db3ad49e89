import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../db/types.js';
import type { Logger } from '../../lib/logger.js';
import { createAuditLog, type AuditTiming } from './audit.js';

type Row = { type: string };

/**
 * The audit log against a fake database whose inserts the test answers: each call gets the
 * rows and is settled by `insertImpl`, so outages, stalls and bad rows can be staged exactly.
 */
function setup(insertImpl: (rows: Row[], call: number) => Promise<void>, timing: Partial<AuditTiming> = {}) {
  const written: string[] = [];
  const calls: string[][] = [];
  const lines: { level: string; msg: string; obj: Record<string, unknown> }[] = [];
  const db = {
    insertInto: () => ({
      values: (rows: Row[]) => ({
        execute: async () => {
          calls.push(rows.map((r) => r.type));
          await insertImpl(rows, calls.length);
          written.push(...rows.map((r) => r.type));
        },
      }),
    }),
  } as unknown as Kysely<Database>;
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => void lines.push({ level, msg, obj });
  const log = { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug'), child: () => log } as unknown as Logger;
  const audit = createAuditLog({ db, clock: { now: () => 0 }, log, timing: { waitMs: 100, retryMs: 20, maxQueued: 1000, ...timing } });
  const record = (type: string) => audit.record({ type: type as never });
  return { audit, record, written, calls, lines };
}

const down = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const never = () => new Promise<void>(() => undefined);
const until = async (check: () => boolean, ms = 2000) => {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('audit log', () => {
  it('writes events recorded during an insert together, in order, and resolves each once written', async () => {
    let release!: () => void;
    const first = new Promise<void>((r) => (release = r));
    const t = setup((_rows, call) => (call === 1 ? first : Promise.resolve()));
    const a = t.record('login');
    const rest = [t.record('logout'), t.record('otp_requested')];
    release();
    await Promise.all([a, ...rest]);
    expect(t.calls).toEqual([['login'], ['logout', 'otp_requested']]);
    expect(t.written).toEqual(['login', 'logout', 'otp_requested']);
  });

  it('keeps a group the database could not take, does not hold requests meanwhile, and writes it once the database is back', async () => {
    let up = false;
    const t = setup(async () => {
      if (!up) throw down();
    });
    const started = Date.now();
    await Promise.all([t.record('otp_requested'), t.record('otp_failed')]);
    // While the database is away a new event does not wait for it either.
    await t.record('login');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(t.written).toEqual([]);
    up = true;
    await until(() => t.written.length === 3);
    // Kept in order, retried as groups (not row by row into the outage), one warning and one recovery line.
    expect(t.written).toEqual(['otp_requested', 'otp_failed', 'login']);
    expect(t.calls.every((c) => c.length >= 1 && c[0] === 'otp_requested')).toBe(true);
    expect(t.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(['audit writes failing: the database is unavailable; events kept and retried']);
    expect(t.lines.some((l) => l.msg === 'audit writes recovered')).toBe(true);
  });

  it('holds a request at most waitMs when the database stalls instead of refusing', async () => {
    let answer!: () => void;
    const t = setup((_rows, call) => (call === 1 ? new Promise<void>((r) => (answer = r)) : Promise.resolve()), { waitMs: 100 });
    const started = Date.now();
    await t.record('login');
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(90);
    expect(waited).toBeLessThan(1000);
    // Recorded once the insert has been stalling for longer than waitMs: no wait at all.
    const queuedAt = Date.now();
    await t.record('logout');
    expect(Date.now() - queuedAt).toBeLessThan(50);
    // The stalled insert completes after all, and the queued row follows it.
    answer();
    await until(() => t.written.length === 2);
    expect(t.written).toEqual(['login', 'logout']);
  });

  it('retries a group that failed on its data row by row, so one bad row loses only itself', async () => {
    const t = setup(async (rows) => {
      if (rows.some((r) => r.type === 'bad')) throw Object.assign(new Error('invalid input syntax for type uuid'), { code: '22P02' });
    });
    await t.record('login');
    await Promise.all([t.record('otp_requested'), t.record('bad'), t.record('logout')]);
    expect(t.written).toEqual(['login', 'otp_requested', 'logout']);
    expect(t.lines.filter((l) => l.level === 'warn').map((l) => [l.msg, l.obj.type])).toEqual([['audit write failed', 'bad']]);
  });

  it('keeps at most maxQueued events, the group in flight included, writes them later, and says it dropped the rest', async () => {
    let answer!: () => void;
    const t = setup((_rows, call) => (call === 1 ? new Promise<void>((r) => (answer = r)) : Promise.resolve()), { maxQueued: 3, waitMs: 50 });
    await Promise.all(Array.from({ length: 6 }, (_, i) => t.record(`e${i}`)));
    const full = t.lines.filter((l) => l.msg === 'audit queue full: event dropped');
    expect(full).toHaveLength(1);
    expect(full[0]?.obj).toMatchObject({ dropped: 1, type: 'e3' });
    answer();
    await until(() => t.written.length === 3);
    expect(t.written).toEqual(['e0', 'e1', 'e2']);
  });

  it('holds an event queued behind a slow group at most waitMs from when it was recorded', async () => {
    // The first group takes 80 ms of the 100 ms; the next one (with the event) never answers.
    const t = setup((_rows, call) => (call === 1 ? new Promise<void>((r) => setTimeout(r, 80)) : never()), { waitMs: 100 });
    void t.record('login');
    await new Promise((r) => setTimeout(r, 10));
    const recordedAt = Date.now();
    await t.record('logout');
    const waited = Date.now() - recordedAt;
    expect(waited).toBeGreaterThanOrEqual(80);
    expect(waited).toBeLessThan(150);
  });

  it('keeps the rest of a row-by-row retry when the database goes away during it, and says when it is back', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let outages = 1;
    const t = setup(async (rows, call) => {
      if (call === 1) return gate; // holds the first group, so the next three go together
      if (rows.length === 1 && outages > 0) {
        outages--; // the database goes away during the row-by-row retry
        throw down();
      }
      if (rows.some((r) => r.type === 'bad')) throw Object.assign(new Error('invalid input syntax for type uuid'), { code: '22P02' });
    });
    const first = t.record('login');
    const rest = [t.record('otp_requested'), t.record('bad'), t.record('logout')];
    release();
    await Promise.all([first, ...rest]);
    await until(() => t.written.length === 3);
    // The rows the outage interrupted were kept and written; only the bad row is lost.
    expect(t.written).toEqual(['login', 'otp_requested', 'logout']);
    expect(t.lines.map((l) => l.msg)).toEqual([
      'audit writes failing: the database is unavailable; events kept and retried',
      'audit write failed',
      'audit writes recovered',
    ]);
  });

  it('close stops retrying into an outage and reports what was not written', async () => {
    const t = setup(async () => {
      throw down();
    });
    await t.record('login');
    await t.record('logout');
    await t.audit.close(500);
    await until(() => t.lines.some((l) => l.msg.startsWith('audit events not written')));
    const callsAtClose = t.calls.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(t.calls.length).toBe(callsAtClose);
    expect(t.lines.find((l) => l.msg.startsWith('audit events not written'))?.obj).toMatchObject({ events: 2 });
  });

  it('close gives a stalled database timeoutMs, then reports the rows not written and writes nothing more', async () => {
    let answer!: () => void;
    const t = setup((_rows, call) => (call === 1 ? new Promise<void>((r) => (answer = r)) : Promise.resolve()), { waitMs: 20 });
    await Promise.all([t.record('login'), t.record('logout'), t.record('otp_requested')]);
    const started = Date.now();
    await t.audit.close(100);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(t.lines.find((l) => l.msg.startsWith('audit events not written'))?.obj).toMatchObject({ events: 3 });
    // The stalled insert answering late changes nothing, and later events are refused.
    answer();
    await t.record('user_blocked');
    await new Promise((r) => setTimeout(r, 50));
    expect(t.calls).toEqual([['login']]);
    expect(t.lines.some((l) => l.msg === 'audit log closed: event dropped')).toBe(true);
  });

  it('while closing, a failure of any kind is final: one line, not one retry per row', async () => {
    let closing = false;
    const t = setup(async () => {
      if (closing) throw new Error('driver has already been destroyed');
    });
    await t.record('login');
    closing = true;
    await t.audit.close(200);
    await Promise.all([t.record('logout'), t.record('otp_requested')]);
    await until(() => t.lines.some((l) => l.msg.startsWith('audit events not written')));
    expect(t.calls).toEqual([['login'], ['logout']]);
    expect(t.lines.find((l) => l.msg.startsWith('audit events not written'))?.obj).toMatchObject({ events: 2 });
    expect(t.lines.filter((l) => l.msg === 'audit write failed')).toHaveLength(0);
  });
});

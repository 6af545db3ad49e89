import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createDenylistRefill } from './denylist-refill.js';

const log = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A refill whose calls are counted and which fails while `failing` says so. */
function fakeRefill() {
  const state = { calls: 0, running: 0, maxRunning: 0, failing: 0, release: null as (() => void) | null, hold: false };
  const refill = async () => {
    state.calls++;
    state.running++;
    state.maxRunning = Math.max(state.maxRunning, state.running);
    try {
      if (state.hold) await new Promise<void>((r) => (state.release = r));
      if (state.failing > 0) {
        state.failing--;
        throw new Error('Connection terminated');
      }
      return 3;
    } finally {
      state.running--;
    }
  };
  return { state, refill };
}

describe('denylist refill', () => {
  it('runs one refill at a time, and once more after one that a request arrived during', async () => {
    const { state, refill } = fakeRefill();
    const r = createDenylistRefill({ refill, log });
    state.hold = true;
    const first = r.request();
    await sleep(5);
    const second = r.request();
    const third = r.request();
    state.hold = false;
    state.release?.();
    await Promise.all([first, second, third]);
    // The first, then one more for both requests that came during it.
    expect(state.calls).toBe(2);
    expect(state.maxRunning).toBe(1);
    await r.close();
  });

  it('retries a failed refill with backoff until one succeeds, then stops', async () => {
    const { state, refill } = fakeRefill();
    const r = createDenylistRefill({ refill, log, timing: { firstRetryMs: 10, maxRetryMs: 40 } });
    state.failing = 3;
    await r.request();
    expect(state.calls).toBe(1);
    // Retries after 10, 20 and 40 ms: the fourth call succeeds.
    await expect.poll(() => state.calls, { timeout: 2000 }).toBe(4);
    await sleep(100);
    expect(state.calls).toBe(4);
    await r.close();
  });

  it('stops retrying on close, and waits for a refill in progress', async () => {
    const { state, refill } = fakeRefill();
    const r = createDenylistRefill({ refill, log, timing: { firstRetryMs: 20, maxRetryMs: 20 } });
    state.failing = 100;
    await r.request();
    state.hold = true;
    await expect.poll(() => state.running, { timeout: 2000 }).toBe(1);
    let closed = false;
    const closing = r.close().then(() => (closed = true));
    await sleep(5);
    expect(closed).toBe(false);
    state.hold = false;
    state.release?.();
    await closing;
    const calls = state.calls;
    await sleep(80);
    expect(state.calls).toBe(calls);
    await r.request();
    expect(state.calls).toBe(calls);
  });
});

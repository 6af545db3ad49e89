import { describe, expect, it } from 'vitest';
import { createKeyedGate, GateFullError } from './keyed-gate.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('createKeyedGate', () => {
  it('runs at most maxInFlight calls per key, the rest in arrival order; other keys are not held up', async () => {
    const gate = createKeyedGate(2);
    const started: number[] = [];
    const blockers = Array.from({ length: 5 }, () => deferred());
    const runs = blockers.map((b, i) =>
      gate.run('A', async () => {
        started.push(i);
        await b.promise;
        return i;
      }),
    );
    const other = gate.run('B', async () => 'b');
    await expect(other).resolves.toBe('b');
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(gate.inFlight('A')).toBe(2);

    blockers[1]!.resolve();
    await runs[1];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const b of blockers) b.resolve();
    await expect(Promise.all(runs)).resolves.toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(gate.inFlight('A')).toBe(0);
  });

  it('frees the slot when a call fails', async () => {
    const gate = createKeyedGate(1);
    await expect(gate.run('A', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(gate.run('A', async () => 'next')).resolves.toBe('next');
    expect(gate.inFlight('A')).toBe(0);
  });

  it('refuses at once when maxWaiting callers are already in line for the key', async () => {
    const gate = createKeyedGate(1, 1);
    const block = deferred();
    const first = gate.run('A', () => block.promise);
    const second = gate.run('A', async () => 'second');
    await expect(gate.run('A', async () => 'third')).rejects.toBeInstanceOf(GateFullError);
    await expect(gate.run('B', async () => 'other key')).resolves.toBe('other key');
    block.resolve();
    await first;
    await expect(second).resolves.toBe('second');
  });
});

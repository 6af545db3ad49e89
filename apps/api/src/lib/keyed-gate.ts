/**
 * Bounds how many calls for one key run at once in this process; the rest wait in line (FIFO)
 * without holding anything, up to `maxWaiting` of them — beyond that `run` refuses at once with
 * GateFullError. Keys with nothing in flight take no memory.
 */
export interface KeyedGate {
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Calls for `key` running now (for tests and metrics). */
  inFlight(key: string): number;
}

export class GateFullError extends Error {
  constructor(readonly key: string) {
    super('too many calls waiting for this key');
  }
}

export function createKeyedGate(maxInFlight: number, maxWaiting = Number.POSITIVE_INFINITY): KeyedGate {
  const lines = new Map<string, { running: number; waiting: (() => void)[] }>();

  function release(key: string): void {
    const line = lines.get(key)!;
    const next = line.waiting.shift();
    if (next) next(); // the slot passes straight to the next caller
    else if (--line.running === 0) lines.delete(key);
  }

  return {
    async run(key, fn) {
      let line = lines.get(key);
      if (!line) lines.set(key, (line = { running: 0, waiting: [] }));
      if (line.running < maxInFlight) line.running++;
      else if (line.waiting.length >= maxWaiting) throw new GateFullError(key);
      else await new Promise<void>((resolve) => line.waiting.push(resolve));
      try {
        return await fn();
      } finally {
        release(key);
      }
    },
    inFlight(key) {
      return lines.get(key)?.running ?? 0;
    },
  };
}

import type { Logger } from '../../lib/logger.js';

export interface DenylistRefill {
  /**
   * Refills the denylist now (on start, and when the Redis connection is ready again), resolving
   * when this refill has ended, in success or failure. One refill runs at a time: a request that
   * arrives during one runs another right after it (its reads may predate what was lost).
   */
  request(): Promise<void>;
  /** Stops retrying and waits for a refill in progress. */
  close(): Promise<void>;
}

export interface RefillTiming {
  /** Wait before the first retry after a failure; it doubles up to maxRetryMs. */
  firstRetryMs: number;
  maxRetryMs: number;
}

const DEFAULT_TIMING: RefillTiming = { firstRetryMs: 500, maxRetryMs: 5_000 };

/**
 * Keeps the denylist refilled from the sessions table (SessionService.restoreDenylist). A refill
 * that fails (Postgres down, or Redis gone again) is retried with backoff until one succeeds, so
 * a lost denylist does not stay lost just because Redis came back before Postgres did.
 */
export function createDenylistRefill(deps: {
  refill: () => Promise<number>;
  log: Logger;
  timing?: Partial<RefillTiming>;
}): DenylistRefill {
  const timing = { ...DEFAULT_TIMING, ...deps.timing };
  const { log } = deps;
  let running: Promise<void> | null = null;
  let again = false;
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  let retryMs = timing.firstRetryMs;

  async function attempt(): Promise<boolean> {
    try {
      const n = await deps.refill();
      if (n > 0) log.info({ sessions: n }, 'denylist restored from the sessions table');
      retryMs = timing.firstRetryMs;
      return true;
    } catch (err) {
      if (!closed) {
        log.warn({ err: { message: (err as Error).message }, retryInMs: retryMs }, 'could not restore the denylist from the sessions table');
      }
      return false;
    }
  }

  function request(): Promise<void> {
    if (closed) return Promise.resolve();
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let ok: boolean;
      do {
        again = false;
        ok = await attempt();
      } while (again && !closed);
      running = null;
      if (!ok && !closed) {
        timer = setTimeout(() => {
          timer = null;
          void request();
        }, retryMs);
        timer.unref();
        retryMs = Math.min(retryMs * 2, timing.maxRetryMs);
      }
    })();
    return running;
  }

  return {
    request,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}

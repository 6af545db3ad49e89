import { SmsDeliveryError } from './sms.sender.js';

export interface PostAttempt {
  /** Headers for this attempt (a webhook signs each attempt with its own timestamp). */
  headers: Record<string, string>;
  body: string;
}

/**
 * POSTs to a provider within one deadline of `timeoutMs` for the whole send, retrying once on a
 * network error or a 5xx answer when time is left. A timeout is not retried: the provider may
 * still deliver the first message, and the caller has already given up on this code.
 *
 * Error messages carry the status only, never the request or response body (which hold the
 * code and the full phone number) — they end up in the log.
 */
export async function postWithRetry(
  url: string,
  timeoutMs: number,
  attempt: () => PostAttempt,
  now: () => number = Date.now,
): Promise<void> {
  const deadline = now() + timeoutMs;
  let lastError: SmsDeliveryError | undefined;
  for (let i = 0; i < 2; i++) {
    const remaining = deadline - now();
    if (remaining <= 0) break;
    const { headers, body } = attempt();
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(remaining), redirect: 'error' });
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') throw new SmsDeliveryError(`timed out after ${timeoutMs} ms`);
      lastError = new SmsDeliveryError(`network error: ${errorCause(err)}`);
      continue;
    }
    // Drain the body so the connection can be reused (its content is not needed, nor logged).
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return;
    lastError = new SmsDeliveryError(`provider answered ${res.status}`);
    if (res.status < 500) throw lastError;
  }
  throw lastError ?? new SmsDeliveryError(`timed out after ${timeoutMs} ms`);
}

function errorCause(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === 'string' ? cause.code : (err as Error).message;
}

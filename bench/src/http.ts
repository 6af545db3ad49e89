/** Calls to the API under test through its public HTTP surface. */

import { forEachConcurrently } from './concurrency.js';

export async function json<T>(res: Response): Promise<T> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${res.status} ${text}`);
  return JSON.parse(text) as T;
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

/** Logs phones in through the public API (POST then PUT /auth/), `concurrency` at a time. */
export async function loginAll(base: string, phones: string[], concurrency = 16): Promise<Tokens[]> {
  const out: Tokens[] = new Array(phones.length);
  const headers = { 'content-type': 'application/json' };
  await forEachConcurrently(phones.length, concurrency, async (i) => {
    const phone = phones[i] as string;
    const { otp_code } = await json<{ otp_code: string }>(
      await fetch(`${base}/auth/`, { method: 'POST', headers, body: JSON.stringify({ phone_number: phone }) }),
    );
    out[i] = await json<Tokens>(
      await fetch(`${base}/auth/`, { method: 'PUT', headers, body: JSON.stringify({ phone_number: phone, otp_code }) }),
    );
  });
  return out;
}

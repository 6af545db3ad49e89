import type { TestApp } from './app.js';

/**
 * The app's next denylist write fails as if Redis had gone away (the error ioredis gives for a
 * closed connection, which the API answers with 503); the writes after it work again.
 */
export function failNextDenylistWrite(t: TestApp): void {
  const denylist = t.deps.stores.denylist;
  const add = denylist.add;
  denylist.add = async () => {
    denylist.add = add;
    throw new Error('Connection is closed.');
  };
}

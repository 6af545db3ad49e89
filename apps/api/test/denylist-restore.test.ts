import { afterEach, describe, expect, it, vi } from 'vitest';
import { backends } from './support/backends.js';
import { startApp, type RestartableTestApp, type TestApp } from './support/app.js';
import { failNextDenylistWrite } from './support/faults.js';

/**
 * The denylist is a cache of the sessions table's revocations: when it is lost — the in-process
 * one with its process, Redis's with a restart that kept nothing on disk — the API refills it from
 * the table, on start and after every Redis reconnect. These tests lose it and check that the
 * tokens of ended sessions stay refused on a route that relies on it (POST /auth/logout).
 */

/** Deletes the app's denylist keys, as a Redis restart without persistence would; false without Redis. */
async function loseRedisDenylist(t: TestApp): Promise<boolean> {
  const redis = t.deps.redis;
  if (!redis) return false;
  const keys = await redis.keys(`${t.deps.config.redis.keyPrefix}deny:*`);
  if (keys.length) await redis.del(...keys);
  return true;
}

const logout = (t: TestApp, token: string) => t.request('POST', '/auth/logout', { token });

function claims(token: string): { sub: string; sid: string } {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string; sid: string };
}

describe.each(backends)('the denylist after it was lost, on $name', (backend) => {
  let t: RestartableTestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('keeps the tokens of ended sessions refused across a restart, and only those', async () => {
    t = await startApp(backend, { persistent: true });
    const ended = await t.login('+79123480001');
    const blocked = await t.login('+79123480002');
    const live = await t.login('+79123480003');
    expect((await logout(t, ended.access_token)).status).toBe(204);
    await t.deps.services.sessions.revokeAllForUser(claims(blocked.access_token).sub, 'blocked');
    await loseRedisDenylist(t);

    t = await t.restart();
    for (const token of [ended.access_token, blocked.access_token]) {
      const res = await logout(t, token);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('SESSION_REVOKED');
    }
    expect((await logout(t, live.access_token)).status).toBe(204);
  });

  it('does not bring back revocations older than an access token can live', async () => {
    t = await startApp(backend, { persistent: true });
    const old = await t.login('+79123480011');
    expect((await logout(t, old.access_token)).status).toBe(204);
    // 17 minutes on: the 15-minute token has expired (the denylist keeps a minute of slack for
    // clock skew), so its session needs no denylist entry.
    t.clock.advance(17 * 60_000);
    const fresh = await t.login('+79123480012');
    expect((await logout(t, fresh.access_token)).status).toBe(204);
    await loseRedisDenylist(t);
    t = await t.restart();
    const now = t.clock.now();
    expect(await t.deps.stores.denylist.has(claims(fresh.access_token).sid, now)).toBe(true);
    expect(await t.deps.stores.denylist.has(claims(old.access_token).sid, now)).toBe(false);
    expect(await t.deps.services.sessions.restoreDenylist()).toBe(1);
  });

  /** Drops the app's Redis connection and waits until it is back (as when Redis restarts). */
  async function reconnect(app: TestApp): Promise<void> {
    const redis = app.deps.redis!;
    const ready = new Promise<void>((resolve) => redis.once('ready', () => resolve()));
    redis.disconnect(true);
    await ready;
  }

  /** Waits for the session's denylist key to be back — a logout meanwhile would denylist it itself. */
  async function waitForDenied(app: TestApp, token: string, timeout: number): Promise<void> {
    const key = `${app.deps.config.redis.keyPrefix}deny:{${claims(token).sid}}`;
    await vi.waitFor(async () => expect(await app.deps.redis!.exists(key), `denylist key of ${claims(token).sid}`).toBe(1), { timeout, interval: 20 });
  }

  it.runIf(backend.name === 'postgres+redis')('refills Redis after a reconnect', async () => {
    t = await startApp(backend);
    const ended = await t.login('+79123480021');
    expect((await logout(t, ended.access_token)).status).toBe(204);
    await loseRedisDenylist(t);
    await reconnect(t);
    await waitForDenied(t, ended.access_token, 5000);
    const res = await logout(t, ended.access_token);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('SESSION_REVOKED');
  });

  it.runIf(backend.name === 'postgres+redis')('retries a refill that failed until one succeeds', async () => {
    t = await startApp(backend);
    const ended = await t.login('+79123480031');
    expect((await logout(t, ended.access_token)).status).toBe(204);
    await loseRedisDenylist(t);
    // The refill after the reconnect fails (its denylist write, as if Redis dropped again); the
    // retry half a second later puts the session back.
    failNextDenylistWrite(t);
    await reconnect(t);
    await waitForDenied(t, ended.access_token, 5000);
    expect(t.logs.some((l) => l.includes('could not restore the denylist'))).toBe(true);
    expect((await logout(t, ended.access_token)).status).toBe(401);
  });
});

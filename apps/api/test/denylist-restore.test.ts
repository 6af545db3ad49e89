import { afterEach, describe, expect, it } from 'vitest';
import { backends } from './support/backends.js';
import { startApp, type RestartableTestApp, type TestApp } from './support/app.js';

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
    expect(await t.deps.services.sessions.restoreDenylist()).toBe(1);
  });

  it.runIf(backend.name === 'postgres+redis')('refills Redis after a reconnect', async () => {
    t = await startApp(backend);
    const ended = await t.login('+79123480021');
    expect((await logout(t, ended.access_token)).status).toBe(204);
    await loseRedisDenylist(t);
    // The connection drops and comes back (as it does when Redis restarts).
    const redis = t.deps.redis!;
    const ready = new Promise<void>((resolve) => redis.once('ready', () => resolve()));
    redis.disconnect(true);
    await ready;
    // The refill runs once the connection is ready again: wait for the session's key (a logout
    // meanwhile would denylist the session itself and prove nothing).
    const key = `${t.deps.config.redis.keyPrefix}deny:{${claims(ended.access_token).sid}}`;
    for (let i = 0; i < 100 && (await redis.exists(key)) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const res = await logout(t, ended.access_token);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('SESSION_REVOKED');
  });
});

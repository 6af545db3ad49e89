import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/types.js';
import { sha256 } from '../src/lib/secrets.js';
import { rotateRefreshToken } from '../src/modules/sessions/sessions.repository.js';
import { backends } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';
import { jwtPayload } from './support/concurrency.js';

const ADMIN_TOKEN = 'concurrency-admin-token-0123456789abcdef';

/** Runs `change` in a transaction held open until the returned `commit()` is called. */
async function holdTransaction(db: Kysely<Database>, change: (trx: Kysely<Database>) => Promise<unknown>) {
  let commit!: () => void;
  const held = new Promise<void>((resolve) => (commit = resolve));
  let changed!: () => void;
  const isChanged = new Promise<void>((resolve) => (changed = resolve));
  const done = db.transaction().execute(async (trx) => {
    await change(trx);
    changed();
    await held;
  });
  await isChanged;
  const finish = async () => {
    commit();
    await done;
  };
  return {
    commit: finish,
    /** Lets `request` start and reach the held rows (300 ms), commits, then returns its answer. */
    async commitWhile<T>(request: Promise<T>): Promise<T> {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await finish();
      return request;
    },
  };
}

/** The refresh tokens of a session, by state. */
async function tokensOf(db: Kysely<Database>, sessionId: string) {
  const rows = await db.selectFrom('refresh_tokens').select(['token_hash', 'spent_at']).where('session_id', '=', sessionId).execute();
  return { total: rows.length, unspent: rows.filter((r) => r.spent_at === null).length };
}

async function auditCount(db: Kysely<Database>, type: string, sessionId: string) {
  const rows = await db.selectFrom('audit_events').select('details').where('type', '=', type).execute();
  return rows.filter((r) => (r.details as { session_id?: string } | null)?.session_id === sessionId).length;
}

describe.each(backends)('concurrency on $name', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(backend, { env: { ADMIN_API_TOKEN: ADMIN_TOKEN } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the same correct code submitted 20 times at once yields exactly one token pair', async () => {
    const phone = '+79140000001';
    const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
    const body = { phone_number: phone, otp_code: sent.body.otp_code };
    const results = await Promise.all(Array.from({ length: 20 }, () => t.request('PUT', '/auth/', { body })));
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 200)) {
      expect(['OTP_INVALID', 'OTP_TOO_MANY_ATTEMPTS']).toContain(r.body.error.code);
    }
    const sessions = await t.deps.database.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select('sessions.id')
      .where('users.phone_number', '=', phone)
      .execute();
    expect(sessions).toHaveLength(1);
  });

  it('first logins of one phone at once yield one user', async () => {
    // A test number has a fixed code that can be verified many times, so the logins really race
    // on creating the user (the unique phone constraint decides).
    const phone = '+79140000002';
    // (A budget above the burst: each in-flight check reserves a unit of the failure budget.)
    const app = await startApp(backend, { env: { OTP_TEST_NUMBERS: `${phone}:2468`, OTP_MAX_FAILURES_PER_PHONE: '100' } });
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, () => app.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: '2468' } })),
      );
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
      expect(results.filter((r) => r.body.user_created)).toHaveLength(1);
      const users = await app.deps.database.db.selectFrom('users').select('id').where('phone_number', '=', phone).execute();
      expect(users).toHaveLength(1);
      const subs = new Set(results.map((r) => JSON.parse(Buffer.from(r.body.access_token.split('.')[1], 'base64url').toString()).sub));
      expect(subs.size).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('20 concurrent activations by one user yield exactly one success', async () => {
    const inviters = [];
    for (let i = 0; i < 20; i++) {
      const { access_token } = await t.login(`+791400001${String(i).padStart(2, '0')}`);
      inviters.push((await t.request('GET', '/profile/', { token: access_token })).body.invite_code as string);
    }
    const me = await t.login('+79140000200');
    const results = await Promise.all(
      inviters.map((code) => t.request('POST', '/profile/', { token: me.access_token, body: { other_profile_invite_code: code } })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    // The losers hear that a code is already activated — or, when more requests are in flight at
    // once than the failed-activation budget (each reserves a unit before it knows its outcome),
    // RATE_LIMITED. Never a second success.
    for (const r of results.filter((r) => r.status !== 200)) {
      expect(['INVITE_CODE_ALREADY_ACTIVATED', 'RATE_LIMITED']).toContain(r.body.error.code);
    }
    const counts = await t.deps.database.db
      .selectFrom('users')
      .select((eb) => eb.fn.sum<number>('invited_count').as('total'))
      .where('invite_code', 'in', inviters)
      .executeTakeFirstOrThrow();
    expect(Number(counts.total)).toBe(1);
  });

  it('two users activating each other at the same time cannot form a cycle', async () => {
    for (let round = 0; round < 5; round++) {
      const a = await t.login(`+7914000030${round}`);
      const b = await t.login(`+7914000040${round}`);
      const codeA = (await t.request('GET', '/profile/', { token: a.access_token })).body.invite_code;
      const codeB = (await t.request('GET', '/profile/', { token: b.access_token })).body.invite_code;
      const [ra, rb] = await Promise.all([
        t.request('POST', '/profile/', { token: a.access_token, body: { other_profile_invite_code: codeB } }),
        t.request('POST', '/profile/', { token: b.access_token, body: { other_profile_invite_code: codeA } }),
      ]);
      expect([ra.status, rb.status].sort()).toEqual([200, 422]);
      expect([ra, rb].find((r) => r.status === 422)?.body.error.code).toBe('INVITE_CODE_CYCLE');
    }
  });

  it('concurrent code requests for one phone send exactly one SMS (the cooldown holds)', async () => {
    const phone = '+79140000500';
    const before = t.sms.sent.length;
    const results = await Promise.all(Array.from({ length: 20 }, () => t.request('POST', '/auth/', { body: { phone_number: phone } })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 429).every((r) => r.body.error.code === 'OTP_RESEND_TOO_SOON')).toBe(true);
    expect(t.sms.sent.length - before).toBe(1);
  });

  it('a login racing with a block opens no session: it waits for the block and answers USER_BLOCKED', async () => {
    const phone = '+79140000600';
    const app = await startApp(backend, { env: { OTP_TEST_NUMBERS: `${phone}:1357` } });
    try {
      await app.login(phone);
      const db = app.deps.database.db;
      // A block in flight: blocked_at set in a transaction that has not committed yet. The login
      // starts meanwhile; it reads the user as not blocked and must then wait at the session insert.
      let commit!: () => void;
      const held = new Promise<void>((resolve) => (commit = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const block = db.transaction().execute(async (trx) => {
        await trx.updateTable('users').set({ blocked_at: new Date() }).where('phone_number', '=', phone).execute();
        locked();
        await held;
      });
      await isLocked;
      const login = app.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: '1357' } });
      await new Promise((resolve) => setTimeout(resolve, 300));
      commit();
      await block;
      const res = await login;
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('USER_BLOCKED');
      const sessions = await db
        .selectFrom('sessions')
        .innerJoin('users', 'users.id', 'sessions.user_id')
        .select('sessions.id')
        .where('users.phone_number', '=', phone)
        .execute();
      expect(sessions).toHaveLength(1); // only the login from before the block
    } finally {
      await app.close();
    }
  });

  // A refresh is one statement that reads the token, its session and its user under row locks
  // (sessions.repository.ts, rotateRefreshToken). These hold a change open in another transaction
  // while a refresh starts, so the refresh must wait for it and decide on the committed state.
  describe('refresh racing with a block or a revocation', () => {
    const db = () => t.deps.database.db;
    const refresh = (refresh_token: string) => t.request('POST', '/auth/refresh', { body: { refresh_token } });

    it('a refresh that loses the race for its token to an uncommitted rotation answers REFRESH_TOKEN_REUSED', async () => {
      // The loser's statement starts before the winner commits, so its snapshot still holds the
      // token unspent; it must wait and report a reuse (never invalid, never a second rotation).
      const login = await t.login('+79140000703');
      const sid = jwtPayload(login.access_token).sid as string;
      const now = new Date(t.clock.now());
      const next = 'w'.repeat(43);
      const winner = await holdTransaction(db(), (trx) =>
        rotateRefreshToken(trx, {
          oldHash: sha256(login.refresh_token),
          newHash: sha256(next),
          now,
          expiresAt: new Date(now.getTime() + 86_400_000),
          ip: '127.0.0.1',
        }),
      );
      const res = winner.commitWhile(refresh(login.refresh_token));
      expect((await res).status).toBe(401);
      expect((await res).body.error.code).toBe('REFRESH_TOKEN_REUSED');
      // The winner's token and nothing else was minted, and the reuse ended the session.
      expect(await tokensOf(db(), sid)).toEqual({ total: 2, unspent: 1 });
      expect(await auditCount(db(), 'token_refreshed', sid)).toBe(1);
      expect((await refresh(next)).body.error.code).toBe('REFRESH_TOKEN_INVALID');
    });

    it('a refresh racing with a block spends nothing: it waits for the block and answers USER_BLOCKED', async () => {
      const phone = '+79140000700';
      const login = await t.login(phone);
      const sid = jwtPayload(login.access_token).sid as string;
      // blocked_at set in a transaction that has not committed yet; the refresh starts meanwhile.
      const block = await holdTransaction(db(), (trx) =>
        trx.updateTable('users').set({ blocked_at: new Date() }).where('phone_number', '=', phone).execute(),
      );
      const res = block.commitWhile(refresh(login.refresh_token));
      expect((await res).status).toBe(403);
      expect((await res).body.error.code).toBe('USER_BLOCKED');
      // Nothing was spent or written: the one token of the login, unspent, and no audit row.
      expect(await tokensOf(db(), sid)).toEqual({ total: 1, unspent: 1 });
      expect(await auditCount(db(), 'token_refreshed', sid)).toBe(0);
      // So after an unblock the token still works (it is not taken for a replay).
      await db().updateTable('users').set({ blocked_at: null }).where('phone_number', '=', phone).execute();
      expect((await refresh(login.refresh_token)).status).toBe(200);
    });

    it('a refresh racing with a logout spends nothing: it waits for it and answers REFRESH_TOKEN_INVALID', async () => {
      const login = await t.login('+79140000701');
      const sid = jwtPayload(login.access_token).sid as string;
      const logout = await holdTransaction(db(), (trx) =>
        trx.updateTable('sessions').set({ revoked_at: new Date(), revoked_reason: 'logout' }).where('id', '=', sid).execute(),
      );
      const res = logout.commitWhile(refresh(login.refresh_token));
      expect((await res).status).toBe(401);
      expect((await res).body.error.code).toBe('REFRESH_TOKEN_INVALID');
      expect(await tokensOf(db(), sid)).toEqual({ total: 1, unspent: 1 });
      expect(await auditCount(db(), 'token_refreshed', sid)).toBe(0);
      // Presented again it is still invalid, not a reuse (it was never spent).
      expect((await refresh(login.refresh_token)).body.error.code).toBe('REFRESH_TOKEN_INVALID');
    });

    it('a block arriving while a rotation is uncommitted waits for it, then ends the session, new token included', async () => {
      const phone = '+79140000702';
      const login = await t.login(phone);
      const sid = jwtPayload(login.access_token).sid as string;
      const now = new Date(t.clock.now());
      const next = 'n'.repeat(43);
      let outcome: Awaited<ReturnType<typeof rotateRefreshToken>> | undefined;
      const rotation = await holdTransaction(db(), async (trx) => {
        outcome = await rotateRefreshToken(trx, {
          oldHash: sha256(login.refresh_token),
          newHash: sha256(next),
          now,
          expiresAt: new Date(now.getTime() + 86_400_000),
          ip: '127.0.0.1',
        });
      });
      expect(outcome).toMatchObject({ kind: 'rotated', sessionId: sid });
      const blocked = await rotation.commitWhile(t.request('POST', `/admin/users/${encodeURIComponent(phone)}/block`, { token: ADMIN_TOKEN }));
      expect(blocked.status).toBe(200);
      expect(blocked.body.sessions_revoked).toBe(1);
      // The rotation's new token belongs to the session the block ended: nothing live is left.
      const res = await refresh(next);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('REFRESH_TOKEN_INVALID');
      expect((await t.request('GET', '/profile/', { token: login.access_token })).body.error.code).toBe('SESSION_REVOKED');
    });
  });
});

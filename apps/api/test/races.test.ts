import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';
import { concurrently, jwtPayload, tally } from './support/concurrency.js';

/**
 * Races at high concurrency (200 requests at once, over real HTTP): every rule that must hold
 * under concurrency is checked on the answers *and* on the tables.
 */
const N = 200;
const TEST_NUMBER = '+79990000001';
const TEST_CODE = '4321';

describe.each(backends)('races on $name', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(backend, {
      env: {
        OTP_TEST_NUMBERS: `${TEST_NUMBER}:${TEST_CODE}`,
        // The fixed code of a test number reserves a unit of this budget per check; 200 checks
        // in flight at once must not trip it (the race is about users, not about this limit).
        OTP_MAX_FAILURES_PER_PHONE: '10000',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  const db = () => t.deps.database.db;

  async function userByPhone(phone: string) {
    return db().selectFrom('users').selectAll().where('phone_number', '=', phone).execute();
  }

  async function sessionsOf(userId: string) {
    return db().selectFrom('sessions').selectAll().where('user_id', '=', userId).execute();
  }

  async function refreshTokensOf(sessionId: string) {
    return db().selectFrom('refresh_tokens').selectAll().where('session_id', '=', sessionId).execute();
  }

  async function inviteCodeOf(accessToken: string): Promise<string> {
    const res = await t.request('GET', '/profile/', { token: accessToken });
    expect(res.status).toBe(200);
    return res.body.invite_code as string;
  }

  it(`${N} concurrent submissions of one correct code give exactly one token pair`, async () => {
    const phone = '+79123460001';
    const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
    expect(sent.status).toBe(200);
    const body = { phone_number: phone, otp_code: sent.body.otp_code };

    const results = await concurrently(N, () => t.request('PUT', '/auth/', { body }));

    const statuses = tally(results.map((r) => r.status));
    expect(statuses['200']).toBe(1);
    // The losers hear that the code is no longer valid; never a 5xx.
    for (const r of results.filter((r) => r.status !== 200)) {
      expect([401, 429]).toContain(r.status);
      expect(['OTP_INVALID', 'OTP_TOO_MANY_ATTEMPTS']).toContain(r.body.error.code);
    }
    const users = await userByPhone(phone);
    expect(users).toHaveLength(1);
    const sessions = await sessionsOf(users[0]!.id);
    expect(sessions).toHaveLength(1);
    expect(await refreshTokensOf(sessions[0]!.id)).toHaveLength(1);
    const winner = results.find((r) => r.status === 200)!;
    expect(jwtPayload(winner.body.access_token).sid).toBe(sessions[0]!.id);
  });

  it('a correct code submitted at once with OTP_MAX_ATTEMPTS - 1 wrong guesses always wins, whatever the order', async () => {
    // Each check is one atomic step in the store: wrong guesses that land first use attempts
    // (not enough to burn the code), the correct one logs in, later ones find no code. Nothing
    // is reserved for requests still in flight, so the correct one cannot be crowded out.
    const phone = '+79123460002';
    for (let round = 0; round < 3; round++) {
      const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
      expect(sent.status).toBe(200);
      const code: string = sent.body.otp_code;
      const bad = code.replace(/./g, (d: string) => String((Number(d) + 1) % 10));
      const results = await concurrently(5, (i) =>
        t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: i === round + 1 ? code : bad } }),
      );
      expect(tally(results.map((r) => r.status))).toEqual({ '200': 1, '401': 4 });
      expect(results.filter((r) => r.status === 401).every((r) => r.body.error.code === 'OTP_INVALID')).toBe(true);
      t.clock.advance(61_000); // past the resend cooldown
    }
  });

  it(`${N} concurrent first logins of one phone create exactly one user`, async () => {
    // A test number's fixed code is not consumed, so every one of the logins succeeds and each
    // of them races to create the user.
    const results = await concurrently(N, () =>
      t.request('PUT', '/auth/', { body: { phone_number: TEST_NUMBER, otp_code: TEST_CODE } }),
    );
    expect(tally(results.map((r) => r.status))).toEqual({ '200': N });
    expect(results.filter((r) => r.body.user_created === true)).toHaveLength(1);

    const users = await userByPhone(TEST_NUMBER);
    expect(users).toHaveLength(1);
    const subs = new Set(results.map((r) => jwtPayload(r.body.access_token).sub));
    expect([...subs]).toEqual([users[0]!.id]);
    // Every login opened its own session, each with exactly one refresh token.
    const sessions = await sessionsOf(users[0]!.id);
    expect(sessions).toHaveLength(N);
    expect(new Set(results.map((r) => jwtPayload(r.body.access_token).sid))).toEqual(new Set(sessions.map((s) => s.id)));
    const tokens = await db()
      .selectFrom('refresh_tokens')
      .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
      .select(['refresh_tokens.session_id'])
      .where('sessions.user_id', '=', users[0]!.id)
      .execute();
    expect(tokens).toHaveLength(N);
  });

  it(`${N} concurrent activations by one user (of several codes): exactly one wins, counts stay consistent`, async () => {
    const owners = await concurrently(4, (i) => t.login(`+7912346010${i}`));
    const codes = await Promise.all(owners.map((o) => inviteCodeOf(o.access_token)));
    const me = await t.login('+79123460110');

    const results = await concurrently(N, (i) =>
      t.request('POST', '/profile/', { token: me.access_token, body: { other_profile_invite_code: codes[i % codes.length] } }),
    );

    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 200)) {
      // Already activated, or — with 200 in flight — the per-user failure budget holds them off.
      expect(['INVITE_CODE_ALREADY_ACTIVATED', 'RATE_LIMITED']).toContain(r.body.error.code);
    }
    const chosen = ok[0]!.body.other_profile_invite_code as string;

    const [meRow] = await userByPhone('+79123460110');
    const ownerRows = await db().selectFrom('users').selectAll().where('invite_code', 'in', codes).execute();
    const chosenOwner = ownerRows.find((o) => o.invite_code === chosen)!;
    expect(meRow!.invited_by).toBe(chosenOwner.id);
    expect(ownerRows.map((o) => o.invited_count).reduce((a, b) => a + b, 0)).toBe(1);
    expect(chosenOwner.invited_count).toBe(1);

    const profile = await t.request('GET', '/profile/', { token: me.access_token });
    expect(profile.body.other_profile_invite_code).toBe(chosen);
  });

  it(`${N} users activating one code at once are all counted (no lost update)`, async () => {
    const owner = await t.login('+79123460200');
    const code = await inviteCodeOf(owner.access_token);
    const phones = Array.from({ length: N }, (_, i) => `+7912347${String(i).padStart(4, '0')}`);
    const invitees = await concurrently(N, (i) => t.login(phones[i]!));

    const results = await concurrently(N, (i) =>
      t.request('POST', '/profile/', { token: invitees[i]!.access_token, body: { other_profile_invite_code: code } }),
    );
    expect(tally(results.map((r) => r.status))).toEqual({ '200': N });

    const [ownerRow] = await userByPhone('+79123460200');
    expect(ownerRow!.invited_count).toBe(N);
    const { count } = await db()
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('invited_by', '=', ownerRow!.id)
      .executeTakeFirstOrThrow();
    expect(Number(count)).toBe(N);
    const profile = await t.request('GET', '/profile/', { token: owner.access_token });
    expect(profile.body.invited_users_count).toBe(N);
    expect(profile.body.invited_users).toHaveLength(100);
    expect(new Set(profile.body.invited_users).size).toBe(100);
  });

  it('two users activating each other\'s codes at once never form a cycle (50 pairs)', async () => {
    const pairs = 50;
    const users = await concurrently(pairs * 2, (i) => t.login(`+7912348${String(i).padStart(4, '0')}`));
    const codes = await Promise.all(users.map((u) => inviteCodeOf(u.access_token)));

    const results = await concurrently(pairs * 2, (i) => {
      const partner = i % 2 === 0 ? i + 1 : i - 1;
      return t.request('POST', '/profile/', { token: users[i]!.access_token, body: { other_profile_invite_code: codes[partner] } });
    });

    for (let p = 0; p < pairs; p++) {
      const pair = [results[2 * p]!, results[2 * p + 1]!];
      expect(pair.map((r) => r.status).sort()).toEqual([200, 422]);
      expect(pair.find((r) => r.status === 422)!.body.error.code).toBe('INVITE_CODE_CYCLE');
    }
    // In the tables: nobody in a pair points at a user who points back.
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from users a join users b on a.invited_by = b.id where b.invited_by = a.id`.execute(db());
    expect(rows[0]!.n).toBe(0);
  });

  it(`${N} concurrent refreshes with one refresh token give exactly one new pair and no orphan rows`, async () => {
    const phone = '+79123460300';
    const login = await t.login(phone);
    const sid = jwtPayload(login.access_token).sid as string;

    const results = await concurrently(N, () =>
      t.request('POST', '/auth/refresh', { body: { refresh_token: login.refresh_token } }),
    );

    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    expect(jwtPayload(ok[0]!.body.access_token).sid).toBe(sid);
    // Every other request presented a token that was already spent: that is a replay.
    for (const r of results.filter((r) => r.status !== 200)) {
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('REFRESH_TOKEN_REUSED');
    }

    const [user] = await userByPhone(phone);
    const sessions = await sessionsOf(user!.id);
    expect(sessions.map((s) => s.id)).toEqual([sid]);
    // The original token (spent) and exactly one successor; nothing else was minted.
    const tokens = await refreshTokensOf(sid);
    expect(tokens).toHaveLength(2);
    expect(tokens.filter((tk) => tk.spent_at === null)).toHaveLength(1);
    // One rotation, one token_refreshed audit row (written by the rotation's own statement); every
    // other request was recorded as a reuse.
    const audit = await db().selectFrom('audit_events').select(['type', 'details']).where('user_id', '=', user!.id).execute();
    expect(audit.filter((e) => e.type === 'token_refreshed').map((e) => e.details)).toEqual([{ session_id: sid }]);
    expect(audit.filter((e) => e.type === 'refresh_reused')).toHaveLength(N - 1);
    // Reuse detection ended the session (the spec: a replayed token revokes the whole session),
    // so the one new pair is refused too — the session cannot live on with a leaked token.
    expect(sessions[0]!.revoked_at).not.toBeNull();
    expect(sessions[0]!.revoked_reason).toBe('refresh_reused');
    const after = await t.request('GET', '/profile/', { token: ok[0]!.body.access_token });
    expect(after.body.error.code).toBe('SESSION_REVOKED');
  });

  it(`${N} concurrent code requests for one phone send exactly one code (the cooldown holds)`, async () => {
    const phone = '+79123460400';
    const before = t.sms.sent.length;

    const results = await concurrently(N, () => t.request('POST', '/auth/', { body: { phone_number: phone } }));

    expect(tally(results.map((r) => r.status))).toEqual({ '200': 1, '429': N - 1 });
    for (const r of results.filter((r) => r.status === 429)) {
      expect(r.body.error.code).toBe('OTP_RESEND_TOO_SOON');
      expect(r.headers.get('retry-after')).toMatch(/^[0-9]+$/);
    }
    const sent = t.sms.sent.slice(before).filter((m) => m.to === phone);
    expect(sent).toHaveLength(1);
    // The one code that went out is the one that works.
    const code = results.find((r) => r.status === 200)!.body.otp_code;
    expect(sent[0]!.code).toBe(code);
    const verify = await t.request('PUT', '/auth/', { body: { phone_number: phone, otp_code: code } });
    expect(verify.status).toBe(200);
  });
});

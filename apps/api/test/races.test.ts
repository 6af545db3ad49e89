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
    expect(results.filter((r) => r.status !== 200).map((r) => r.body)).toEqual([]); // (names the errors, if any)
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

  /** Users whose chain of inviters leads back to themselves (must always be 0). */
  async function usersOnACycle(): Promise<number> {
    const { rows } = await sql<{ n: number }>`
      with recursive walk(start, id, depth) as (
        select id, invited_by, 1 from users where invited_by is not null
        union all
        select w.start, u.invited_by, w.depth + 1 from walk w join users u on u.id = w.id
        where u.invited_by is not null and w.id <> w.start and w.depth < 10000
      )
      select count(distinct start)::int as n from walk where id = start`.execute(db());
    return rows[0]!.n;
  }

  /** Users whose `invited_count` differs from the rows pointing at them (must always be 0). */
  async function miscountedUsers(): Promise<number> {
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from users u
      where u.invited_count <> (select count(*) from users v where v.invited_by = u.id)`.execute(db());
    return rows[0]!.n;
  }

  const activate = (token: string, code: string) =>
    t.request('POST', '/profile/', { token, body: { other_profile_invite_code: code } });

  it(`${N} fresh users joining one tree at once (codes of 31 members, three levels) all succeed and are all counted`, async () => {
    // One tree: a root, 5 users who activated its code, 25 who activated theirs. Activations into
    // one tree all take a shared lock on its root: none may be refused or lost.
    const members = await concurrently(31, (i) => t.login(`+791234900${String(i).padStart(2, '0')}`));
    const codes = await Promise.all(members.map((m) => inviteCodeOf(m.access_token)));
    const levelOne = await concurrently(5, (i) => activate(members[1 + i]!.access_token, codes[0]!));
    expect(levelOne.map((r) => r.status)).toEqual(Array(5).fill(200));
    const levelTwo = await concurrently(25, (i) => activate(members[6 + i]!.access_token, codes[1 + (i % 5)]!));
    expect(levelTwo.map((r) => r.status)).toEqual(Array(25).fill(200));

    const fresh = await concurrently(N, (i) => t.login(`+7912349${String(1000 + i)}`));
    const results = await concurrently(N, (i) => activate(fresh[i]!.access_token, codes[i % codes.length]!));
    expect(results.filter((r) => r.status !== 200).map((r) => r.body)).toEqual([]); // (names the errors, if any)
    expect(tally(results.map((r) => r.status))).toEqual({ '200': N });
    results.forEach((r, i) => expect(r.body.other_profile_invite_code).toBe(codes[i % codes.length]));

    // In the tables: one tree of 31 + N users under the root, every count right, no cycle.
    const [root] = await userByPhone('+79123490000');
    const { rows } = await sql<{ n: number }>`
      with recursive tree(id) as (
        select id from users where id = ${root!.id}
        union all
        select u.id from users u join tree on u.invited_by = tree.id
      )
      select count(*)::int as n from tree`.execute(db());
    expect(rows[0]!.n).toBe(31 + N);
    expect(root!.invited_by).toBeNull();
    expect(await miscountedUsers()).toBe(0);
    expect(await usersOnACycle()).toBe(0);
    // Each member was chosen by N / 31 (rounded) of the fresh users, on top of its tree children.
    const memberRows = await db().selectFrom('users').selectAll().where('invite_code', 'in', codes).execute();
    for (const [i, code] of codes.entries()) {
      const joined = Math.floor(N / codes.length) + (i < N % codes.length ? 1 : 0);
      const children = i === 0 ? 5 : i <= 5 ? 5 : 0;
      expect(memberRows.find((m) => m.invite_code === code)!.invited_count).toBe(joined + children);
    }
  });

  it('roots of two chains activating each other\'s chains at once (while others join both) never form a cycle (15 groups)', async () => {
    // Per group: chains A1→B1→C1 and A2→B2→C2 (C1, C2 roots). At once: C1 activates A2's code,
    // C2 activates A1's code — together they would close C1→A2→B2→C2→A1→B1→C1 — and four fresh
    // users join A1, B1, A2, B2. The roots' requests conflict on their locks: one wins, the other
    // then finds itself above the code's owner (INVITE_CODE_CYCLE). The fresh users all get in.
    const groups = 15;
    const users = await concurrently(groups * 10, (i) => t.login(`+7912349${String(2000 + i)}`));
    const codes = await Promise.all(users.map((u) => inviteCodeOf(u.access_token)));
    const at = (g: number, j: number) => g * 10 + j; // j: 0 A1, 1 B1, 2 C1, 3 A2, 4 B2, 5 C2, 6..9 fresh
    for (const [from, to] of [[1, 2], [0, 1], [4, 5], [3, 4]] as const) {
      const setup = await concurrently(groups, (g) => activate(users[at(g, from)]!.access_token, codes[at(g, to)]!));
      expect(setup.map((r) => r.status)).toEqual(Array(groups).fill(200));
    }

    const plan: [user: number, owner: number][] = [[2, 3], [5, 0], [6, 0], [7, 1], [8, 3], [9, 4]];
    const results = await concurrently(groups * plan.length, (k) => {
      const g = Math.floor(k / plan.length);
      const [user, owner] = plan[k % plan.length]!;
      return activate(users[at(g, user)]!.access_token, codes[at(g, owner)]!);
    });

    for (let g = 0; g < groups; g++) {
      const mine = results.slice(g * plan.length, (g + 1) * plan.length);
      const roots = mine.slice(0, 2);
      expect(roots.map((r) => r.status).sort()).toEqual([200, 422]);
      expect(roots.find((r) => r.status === 422)!.body.error.code).toBe('INVITE_CODE_CYCLE');
      expect(mine.slice(2).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    }
    expect(await usersOnACycle()).toBe(0);
    expect(await miscountedUsers()).toBe(0);
  });

  it('three roots activating codes in each other\'s trees in a ring at once: two succeed, the third is a cycle (10 rings)', async () => {
    // Per ring: roots X, Y, Z with one invitee each (x, y, z). At once X activates y's code, Y
    // activates z's, Z activates x's. Any two of them are fine; the third closes the ring.
    const rings = 10;
    const users = await concurrently(rings * 6, (i) => t.login(`+7912349${String(2200 + i)}`));
    const codes = await Promise.all(users.map((u) => inviteCodeOf(u.access_token)));
    const at = (r: number, j: number) => r * 6 + j; // j: 0 X, 1 Y, 2 Z, 3 x, 4 y, 5 z
    const setup = await concurrently(rings * 3, (k) =>
      activate(users[at(Math.floor(k / 3), 3 + (k % 3))]!.access_token, codes[at(Math.floor(k / 3), k % 3)]!),
    );
    expect(setup.map((r) => r.status)).toEqual(Array(rings * 3).fill(200));

    const results = await concurrently(rings * 3, (k) => {
      const r = Math.floor(k / 3);
      const j = k % 3;
      return activate(users[at(r, j)]!.access_token, codes[at(r, 3 + ((j + 1) % 3))]!);
    });
    for (let r = 0; r < rings; r++) {
      const ring = results.slice(r * 3, r * 3 + 3);
      expect(ring.map((x) => x.status).sort()).toEqual([200, 200, 422]);
      expect(ring.find((x) => x.status === 422)!.body.error.code).toBe('INVITE_CODE_CYCLE');
    }
    expect(await usersOnACycle()).toBe(0);
    expect(await miscountedUsers()).toBe(0);
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

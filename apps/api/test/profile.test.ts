import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';

describe.each(backends)('profile and invites on $name', (backend) => {
  let t: TestApp;
  let n = 0;
  /** A fresh phone per call, so tests do not share cooldowns. */
  const phone = () => `+7913${String(1_000_000 + n++).slice(1).padStart(7, '0')}`;
  const activate = (token: string, code: unknown) =>
    t.request('POST', '/profile/', { token, body: { other_profile_invite_code: code } });
  const profileOf = async (token: string) => (await t.request('GET', '/profile/', { token })).body;

  beforeAll(async () => {
    t = await startApp(backend);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("returns a new user's profile with an invite code and nothing activated", async () => {
    const p = phone();
    const { access_token } = await t.login(p);
    const res = await t.request('GET', '/profile/', { token: access_token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      phone_number: p,
      invite_code: expect.stringMatching(/^[2-9A-HJKMNP-Z]{6}$/),
      other_profile_invite_code: null,
      invited_users: [],
      invited_users_count: 0,
      invited_users_next_cursor: null,
    });
  });

  it('gives every user a different invite code that never changes', async () => {
    const a = await t.login(phone());
    const b = await t.login(phone());
    const codeA = (await profileOf(a.access_token)).invite_code;
    expect((await profileOf(b.access_token)).invite_code).not.toBe(codeA);
    expect((await profileOf(a.access_token)).invite_code).toBe(codeA);
  });

  it("activates another user's code (case-insensitive, spaces ignored) and lists the invitee in the owner's profile", async () => {
    const ownerPhone = phone();
    const owner = await t.login(ownerPhone);
    const ownerCode: string = (await profileOf(owner.access_token)).invite_code;
    const inviteePhone = phone();
    const invitee = await t.login(inviteePhone);
    const res = await activate(invitee.access_token, `  ${ownerCode.toLowerCase()} `);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      message: "The other user's invite code was successfully activated in the user's profile.",
      other_profile_invite_code: ownerCode,
    });
    expect((await profileOf(invitee.access_token)).other_profile_invite_code).toBe(ownerCode);
    const ownerProfile = await profileOf(owner.access_token);
    expect(ownerProfile.invited_users).toEqual([inviteePhone]);
    expect(ownerProfile.invited_users_count).toBe(1);
  });

  it('does not count activations that failed because the database was down against the failure budget', async () => {
    const owner = await t.login(phone());
    const me = await t.login(phone());
    const code = (await profileOf(owner.access_token)).invite_code as string;
    const db = t.deps.database.db;
    const transaction = db.transaction;
    db.transaction = () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    };
    try {
      // More attempts than the budget (INVITE_MAX_FAILURES, 10): each is a 503, none a guess.
      for (let i = 0; i < 12; i++) {
        const res = await activate(me.access_token, code);
        expect(res.status).toBe(503);
        expect(res.body.error.code).toBe('SERVICE_UNAVAILABLE');
      }
    } finally {
      db.transaction = transaction;
    }
    const res = await activate(me.access_token, code);
    expect(res.status).toBe(200);
    expect(res.body.other_profile_invite_code).toBe(code);
  });

  it('lets a user activate only one code, ever (INVITE_CODE_ALREADY_ACTIVATED 409)', async () => {
    const a = await t.login(phone());
    const b = await t.login(phone());
    const me = await t.login(phone());
    expect((await activate(me.access_token, (await profileOf(a.access_token)).invite_code)).status).toBe(200);
    const second = await activate(me.access_token, (await profileOf(b.access_token)).invite_code);
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('INVITE_CODE_ALREADY_ACTIVATED');
    const again = await activate(me.access_token, (await profileOf(a.access_token)).invite_code);
    expect(again.body.error.code).toBe('INVITE_CODE_ALREADY_ACTIVATED');
  });

  it('refuses an unknown code (INVITE_CODE_NOT_FOUND 404) and your own (INVITE_CODE_OWN 422)', async () => {
    const me = await t.login(phone());
    const unknown = await activate(me.access_token, 'ZZZZZZ');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('INVITE_CODE_NOT_FOUND');
    const own = await activate(me.access_token, (await profileOf(me.access_token)).invite_code);
    expect(own.status).toBe(422);
    expect(own.body.error.code).toBe('INVITE_CODE_OWN');
    expect((await profileOf(me.access_token)).other_profile_invite_code).toBeNull();
  });

  it('refuses cycles, direct and through a chain (INVITE_CODE_CYCLE 422)', async () => {
    const a = await t.login(phone());
    const b = await t.login(phone());
    const c = await t.login(phone());
    const code = async (x: { access_token: string }) => (await profileOf(x.access_token)).invite_code as string;
    // b was invited by a; c was invited by b.
    expect((await activate(b.access_token, await code(a))).status).toBe(200);
    expect((await activate(c.access_token, await code(b))).status).toBe(200);
    const direct = await activate(a.access_token, await code(b));
    expect(direct.status).toBe(422);
    expect(direct.body.error.code).toBe('INVITE_CODE_CYCLE');
    const chain = await activate(a.access_token, await code(c));
    expect(chain.status).toBe(422);
    expect(chain.body.error.code).toBe('INVITE_CODE_CYCLE');
    // a can still activate somebody outside its tree.
    const d = await t.login(phone());
    expect((await activate(a.access_token, await code(d))).status).toBe(200);
  });

  it.each([
    ['missing', {}],
    ['not a string', { other_profile_invite_code: 123456 }],
    ['too short', { other_profile_invite_code: 'ABC' }],
    ['too long', { other_profile_invite_code: 'ABCDEFG' }],
    ['punctuation', { other_profile_invite_code: 'AB-C12' }],
    ['unicode digits', { other_profile_invite_code: '١٢٣٤٥٦' }],
  ])('refuses a code that is %s with VALIDATION_FAILED 400', async (_label, body) => {
    const me = await t.login(phone());
    const res = await t.request('POST', '/profile/', { token: me.access_token, body });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.fields[0].path).toBe('body.other_profile_invite_code');
  });

  it('limits failed activations (RATE_LIMITED 429 with Retry-After), so codes cannot be guessed; resets after the window', async () => {
    const me = await t.login(phone());
    const target = await t.login(phone());
    for (let i = 0; i < 10; i++) {
      expect((await activate(me.access_token, `ZZZZ${'23456789AB'[i]}2`)).body.error.code).toBe('INVITE_CODE_NOT_FOUND');
    }
    const limited = await activate(me.access_token, (await profileOf(target.access_token)).invite_code);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    t.clock.advance(3600_000);
    const fresh = await t.login(phone());
    // The access token expired with the jump; a refresh gives a new one.
    const meAgain = await t.request('POST', '/auth/refresh', { body: { refresh_token: me.refresh_token } });
    expect(meAgain.status).toBe(200);
    const ok = await activate(meAgain.body.access_token, (await profileOf(fresh.access_token)).invite_code);
    expect(ok.status).toBe(200);
  });

  it.each([
    ['GET', '/profile/'],
    ['GET', '/profile/invited-users'],
    ['POST', '/profile/'],
    ['POST', '/auth/logout'],
  ])('refuses %s %s without a valid token (UNAUTHORIZED 401)', async (method, path) => {
    const body = method === 'POST' ? {} : undefined;
    const variants: Record<string, string>[] = [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer not.a.jwt' }, { authorization: 'Bearer' }];
    for (const headers of variants) {
      const res = await t.request(method, path, { headers, body });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHORIZED');
    }
  });

  it('lists each invitee with the time of its activation, to the millisecond, in UTC', async () => {
    const owner = await t.login(phone());
    const code = (await profileOf(owner.access_token)).invite_code;
    const p = phone();
    const u = await t.login(p);
    const at = t.clock.now() + 12_345; // not a whole second: the milliseconds must survive
    t.clock.set(at);
    expect((await activate(u.access_token, code)).status).toBe(200);
    const res = await t.request('GET', '/profile/invited-users', { token: owner.access_token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [{ phone_number: p, activated_at: new Date(at).toISOString() }], next_cursor: null });
  });

  describe('with more than 100 invitees', () => {
    let owner: { access_token: string };
    const invitees: string[] = [];
    beforeAll(async () => {
      owner = await t.login(phone());
      const code = (await profileOf(owner.access_token)).invite_code;
      for (let i = 0; i < 105; i++) {
        const p = phone();
        const u = await t.login(p);
        const res = await activate(u.access_token, code);
        if (res.status !== 200) throw new Error(res.text);
        invitees.push(p);
        t.clock.advance(1000);
      }
    }, 120_000);

    it('lists the first 100 in the profile, oldest activation first, with the total and a cursor', async () => {
      const res = await t.request('GET', '/profile/', { token: owner.access_token });
      expect(res.status).toBe(200);
      expect(res.body.invited_users).toEqual(invitees.slice(0, 100));
      expect(res.body.invited_users_count).toBe(105);
      expect(res.body.invited_users_next_cursor).toEqual(expect.any(String));
      const rest = await t.request('GET', `/profile/invited-users?cursor=${res.body.invited_users_next_cursor}`, {
        token: owner.access_token,
      });
      expect(rest.body.items.map((i: { phone_number: string }) => i.phone_number)).toEqual(invitees.slice(100));
      expect(rest.body.next_cursor).toBeNull();
    });

    it('pages through all invitees with keyset cursors, with activation times', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor ? `?limit=30&cursor=${cursor}` : '?limit=30';
        const res = await t.request('GET', `/profile/invited-users${query}`, { token: owner.access_token });
        expect(res.status).toBe(200);
        for (const item of res.body.items) {
          expect(new Date(item.activated_at).toISOString()).toBe(item.activated_at);
          seen.push(item.phone_number);
        }
        cursor = res.body.next_cursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(4);
      expect(seen).toEqual(invitees);
    });

    it('keeps pages stable when new activations arrive between them', async () => {
      const first = await t.request('GET', '/profile/invited-users?limit=50', { token: owner.access_token });
      const code = (await profileOf(owner.access_token)).invite_code;
      const late = phone();
      const u = await t.login(late);
      expect((await activate(u.access_token, code)).status).toBe(200);
      invitees.push(late);
      const second = await t.request('GET', `/profile/invited-users?limit=1000&cursor=${first.body.next_cursor}`, {
        token: owner.access_token,
      });
      const all = [...first.body.items, ...second.body.items].map((i: { phone_number: string }) => i.phone_number);
      expect(all).toEqual(invitees);
    });

    it.each([['0'], ['1001'], ['abc'], ['-1'], ['1.5']])('refuses limit=%s with VALIDATION_FAILED', async (limit) => {
      const res = await t.request('GET', `/profile/invited-users?limit=${limit}`, { token: owner.access_token });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.fields[0].path).toBe('query.limit');
    });

    it('refuses a cursor it did not issue with VALIDATION_FAILED', async () => {
      for (const cursor of ['garbage', Buffer.from("u:'; drop table users").toString('base64url')]) {
        const res = await t.request('GET', `/profile/invited-users?cursor=${cursor}`, { token: owner.access_token });
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('VALIDATION_FAILED');
      }
    });
  });
});

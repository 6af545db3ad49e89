import { sql, type Transaction } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/types.js';
import { ACTIVATION_LOCK_NAMESPACE as NS } from '../src/modules/invites/invites.repository.js';
import { ACTIVATIONS_IN_FLIGHT_PER_CODE, ACTIVATIONS_WAITING_PER_CODE } from '../src/modules/invites/invites.service.js';
import { postgresRedis, type Backend } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';

/**
 * The per-tree activation locks (invites.repository.ts), step by step: the test holds a user's
 * lock from its own transaction, watches in `pg_locks` which lock an activation waits for, and
 * lets it go on. Postgres only: the embedded backend has one connection and runs one transaction
 * at a time, so an activation can never wait there for a lock another transaction holds.
 * (Both backends run the concurrent activation races in races.test.ts and concurrency.test.ts.)
 */
describe.runIf(postgresRedis)('invite activation locks on postgres+redis', () => {
  let t: TestApp;
  let phoneSeq = 0;
  beforeAll(async () => {
    t = await startApp(postgresRedis as Backend);
  });
  afterAll(async () => {
    await t?.close();
  });
  /** Transactions a failed test left open: ended, so the app can close. */
  const open = new Set<() => Promise<void>>();
  afterEach(async () => {
    for (const finish of open) await finish();
    open.clear();
  });

  const db = () => t.deps.database.db;

  interface User {
    id: string;
    token: string;
    code: string;
    /** The second half of the user's activation lock key. */
    key: number;
  }

  async function newUser(): Promise<User> {
    const phone = `+7912352${String(phoneSeq++).padStart(4, '0')}`;
    const { access_token } = await t.login(phone);
    const { rows } = await sql<{ id: string; code: string; key: number }>`
      select id, invite_code as code, hashtext(id::text) as key from users where phone_number = ${phone}`.execute(db());
    return { ...rows[0]!, token: access_token };
  }

  /** A fresh user whose lock key is above (`'above'`) or below `other`'s. */
  async function newUserWithKey(side: 'above' | 'below', other: User): Promise<User> {
    for (;;) {
      const u = await newUser();
      if (side === 'above' ? u.key > other.key : u.key < other.key) return u;
    }
  }

  const activate = (u: User, code: string) => t.request('POST', '/profile/', { token: u.token, body: { other_profile_invite_code: code } });

  type Work = (trx: Transaction<Database>) => Promise<void>;
  interface Held {
    /** Resolves once every lock is granted. */
    granted: Promise<void>;
    /** Runs `work` in the transaction and commits; the locks go with the commit. */
    finish(work?: Work): Promise<void>;
  }

  /**
   * Opens a transaction that takes the locks `user`'s own activation takes: `user`'s key
   * exclusively and, if given, `alsoShared`'s (the root of the tree it joins) shared, in ascending
   * key order as the API does. It may have to wait for them (see `granted`).
   */
  function lockAs(user: User, alsoShared?: User): Held {
    let go!: (work?: Work) => void;
    const started = new Promise<Work | undefined>((resolve) => (go = resolve));
    let markGranted!: () => void;
    const granted = new Promise<void>((resolve) => (markGranted = resolve));
    const locks = [{ key: user.key, shared: false }, ...(alsoShared ? [{ key: alsoShared.key, shared: true }] : [])].sort(
      (x, y) => x.key - y.key,
    );
    const done = db()
      .transaction()
      .execute(async (trx) => {
        for (const l of locks) {
          if (l.shared) await sql`select pg_advisory_xact_lock_shared(${NS}::int, ${l.key}::int)`.execute(trx);
          else await sql`select pg_advisory_xact_lock(${NS}::int, ${l.key}::int)`.execute(trx);
        }
        markGranted();
        const work = await started;
        if (work) await work(trx);
      });
    const cleanup = async () => {
      go();
      await done.catch(() => undefined);
    };
    open.add(cleanup);
    return {
      granted: Promise.race([granted, done]),
      async finish(work) {
        open.delete(cleanup);
        go(work);
        await done;
      },
    };
  }

  /** The two updates of `user` activating `owner`'s code (in a transaction holding the locks). */
  const activationByHand =
    (user: User, owner: User): Work =>
    async (trx) => {
      const now = new Date(t.clock.now());
      await sql`update users set invited_by = ${owner.id}, invite_activated_at = ${now} where id = ${user.id} and invited_by is null`.execute(trx);
      await sql`update users set invited_count = invited_count + 1 where id = ${owner.id}`.execute(trx);
    };

  /** Resolves once some transaction waits for `user`'s activation lock in `mode`; fails after 10 s. */
  async function waitForWaiter(user: User, mode: 'ExclusiveLock' | 'ShareLock'): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from pg_locks
        where locktype = 'advisory' and not granted and mode = ${mode}
          and database = (select oid from pg_database where datname = current_database())
          and classid::bigint = ${NS} and objsubid = 2
          and objid::bigint = (${user.key}::bigint & 4294967295)`.execute(db());
      if (rows[0]!.n > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`nobody waited for ${mode} on the lock of ${user.id}`);
  }

  async function row(u: User) {
    return db().selectFrom('users').selectAll().where('id', '=', u.id).executeTakeFirstOrThrow();
  }

  it("starts over when the code's tree root activated while the activation waited, and locks the new root", async () => {
    // R is a root with invitee B; Q is another root. A activates B's code: it reads root(B) = R,
    // then waits — here for its own key, which the test holds (A's key is below R's, so that is
    // the first lock A asks for and it holds nothing while it waits). Meanwhile R activates Q's
    // code. When A gets its locks, root(B) is Q, no longer R: the attempt rolls back and the next
    // one locks Q — seen here as A waiting for Q's lock while the test holds it.
    const a = await newUser();
    const r = await newUserWithKey('above', a);
    const [b, q] = [await newUser(), await newUser()];
    expect((await activate(b, r.code)).status).toBe(200);

    const holdA = lockAs(a);
    await holdA.granted;
    let settled = false;
    const pending = activate(a, b.code).finally(() => (settled = true));
    await waitForWaiter(a, 'ExclusiveLock');

    // R's activation takes R's and Q's keys: nothing stops it.
    const moved = await activate(r, q.code);
    expect(moved.status).toBe(200);

    const holdQ = lockAs(q);
    await holdQ.granted;
    await holdA.finish();
    await waitForWaiter(q, 'ShareLock');
    expect(settled).toBe(false);
    await holdQ.finish();

    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body.other_profile_invite_code).toBe(b.code);
    expect((await row(a)).invited_by).toBe(b.id);
    expect((await row(r)).invited_by).toBe(q.id);
    expect((await row(b)).invited_count).toBe(1);
    expect((await row(q)).invited_count).toBe(1);
    // The rolled-back attempt wrote nothing: one audit row for A's activation.
    const audit = await db().selectFrom('audit_events').selectAll().where('user_id', '=', a.id).where('type', 'like', 'invite_%').execute();
    expect(audit.map((e) => [e.type, e.details])).toEqual([['invite_activated', { code: b.code, outcome: 'activated' }]]);
  });

  it("sees the cycle when the code's tree root activated the caller's code while the activation waited", async () => {
    // R is a root with invitee B. The test's transaction does what R activating A's code does:
    // R's key exclusively, A's shared (R's key is below A's, so A, having read root(B) = R,
    // waits for R's key holding nothing), then the two updates. A activating B's code would now
    // close A→B→R→A: the check runs after A's locks are granted, so it sees R's edge.
    const a = await newUser();
    const r = await newUserWithKey('below', a);
    const b = await newUser();
    expect((await activate(b, r.code)).status).toBe(200);

    const holdR = lockAs(r, a);
    await holdR.granted;
    const pending = activate(a, b.code);
    await waitForWaiter(r, 'ShareLock');
    await holdR.finish(activationByHand(r, a));

    const res = await pending;
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('INVITE_CODE_CYCLE');
    expect((await row(a)).invited_by).toBeNull();
    expect((await row(r)).invited_by).toBe(a.id);
    const audit = await db().selectFrom('audit_events').selectAll().where('user_id', '=', a.id).where('type', 'like', 'invite_%').execute();
    expect(audit.map((e) => [e.type, e.details])).toEqual([['invite_failed', { code: b.code, outcome: 'cycle' }]]);
  });

  it('gives up with 503 SERVICE_UNAVAILABLE, writing nothing, when the root changed under every attempt', async () => {
    // Roots R0…R5; B joined R0's tree. Transaction T_i does what R_i activating R_(i+1)'s code
    // does. A activates B's code: each attempt reads root(B) = R_i and waits for R_i's key, held
    // by T_i. Before T_i commits, T_(i+1) queues for R_(i+1)'s key (T_i holds it shared), so
    // it is granted the moment T_i commits — before A's next attempt asks for it. Five attempts,
    // five stale roots: A hears 503 with Retry-After and nothing of it is written.
    const a = await newUser();
    const roots: User[] = [];
    for (let i = 0; i < 6; i++) roots.push(await newUser());
    const b = await newUser();
    expect((await activate(b, roots[0]!.code)).status).toBe(200);

    let tx = lockAs(roots[0]!, roots[1]!);
    await tx.granted;
    const pending = activate(a, b.code);
    for (let i = 0; i < 5; i++) {
      await waitForWaiter(roots[i]!, 'ShareLock');
      const next = i < 4 ? lockAs(roots[i + 1]!, roots[i + 2]!) : null;
      if (next) await waitForWaiter(roots[i + 1]!, 'ExclusiveLock');
      await tx.finish(activationByHand(roots[i]!, roots[i + 1]!));
      if (next) {
        await next.granted;
        tx = next;
      }
    }

    const res = await pending;
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('SERVICE_UNAVAILABLE');
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await row(a)).invited_by).toBeNull();
    expect((await row(b)).invited_count).toBe(0);
    const audit = await db().selectFrom('audit_events').selectAll().where('user_id', '=', a.id).where('type', 'like', 'invite_%').execute();
    expect(audit).toEqual([]);
    // Trying again works: the tree has stopped moving.
    const again = await activate(a, b.code);
    expect(again.status).toBe(200);
    expect((await row(a)).invited_by).toBe(b.id);
  });
  it("a popular code's activations never queue at its owner's row beyond one: the rest wait outside Postgres", async () => {
    // Every activation of one code updates its owner's row; waiting for that row lock holds a pool
    // connection. The service lets ACTIVATIONS_IN_FLIGHT_PER_CODE (2) into Postgres per process:
    // one holds the row, one waits for it (holding the tuple lock, granted). A third would wait
    // for the tuple lock itself — an ungranted 'tuple' lock on users, which must never appear.
    const owner = await newUser();
    const invitees: User[] = [];
    for (let i = 0; i < 40; i++) invitees.push(await newUser());
    const { rows } = await sql<{ oid: number }>`select 'users'::regclass::oid as oid`.execute(db());
    const usersOid = rows[0]!.oid;

    let done = false;
    let samples = 0;
    let maxQueued = 0;
    const sampler = (async () => {
      while (!done) {
        const r = await sql<{ n: number }>`
          select count(*)::int as n from pg_locks where not granted and locktype = 'tuple' and relation = ${usersOid}`.execute(db());
        maxQueued = Math.max(maxQueued, r.rows[0]!.n);
        samples++;
      }
    })();
    const results = await Promise.all(invitees.map((u) => activate(u, owner.code)));
    done = true;
    await sampler;

    expect(results.filter((r) => r.status !== 200).map((r) => r.body)).toEqual([]);
    expect(samples).toBeGreaterThan(3);
    expect(maxQueued).toBe(0);
    const [ownerRow] = (await sql<{ invited_count: number }>`select invited_count from users where id = ${owner.id}::uuid`.execute(db())).rows;
    expect(ownerRow!.invited_count).toBe(40);
  });

  it('answers 503 with Retry-After to activations of one code beyond the line, writing nothing for them', async () => {
    // A second app whose failure budget does not stop one user's 1 000 requests first.
    const app = await startApp(postgresRedis as Backend, { env: { INVITE_MAX_FAILURES: '10000' } });
    try {
      const login = async (phone: string) => {
        const { access_token } = await app.login(phone);
        const { rows } = await sql<{ id: string; code: string }>`
          select id, invite_code as code from users where phone_number = ${phone}`.execute(app.deps.database.db);
        return { ...rows[0]!, token: access_token };
      };
      const owner = await login('+79123539001');
      const user = await login('+79123539002');
      // The owner's row held: the activations let into Postgres wait there, and the rest line up.
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const holder = app.deps.database.db.transaction().execute(async (trx) => {
        await sql`select 1 from users where id = ${owner.id}::uuid for update`.execute(trx);
        locked();
        await released;
      });
      await isLocked;
      const total = ACTIVATIONS_IN_FLIGHT_PER_CODE + ACTIVATIONS_WAITING_PER_CODE + 3;
      let refused = 0;
      const answers = Array.from({ length: total }, () =>
        app
          .request('POST', '/profile/', { token: user.token, body: { other_profile_invite_code: owner.code } })
          .then((res) => {
            if (res.status === 503) refused++;
            return res;
          }),
      );
      // The three beyond the line are answered at once, while the others still wait.
      const deadline = Date.now() + 8_000;
      while (refused < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      release();
      await holder;
      const results = await Promise.all(answers);

      const busy = results.filter((r) => r.status === 503);
      expect(busy).toHaveLength(3);
      for (const r of busy) {
        expect(r.body.error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', message: 'Too many activations of this code at once; try again.' });
        expect(r.headers.get('retry-after')).toBe('1');
      }
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status === 409).every((r) => r.body.error.code === 'INVITE_CODE_ALREADY_ACTIVATED')).toBe(true);
      expect(results.filter((r) => r.status === 409)).toHaveLength(total - 4);
      const [ownerRow] = (await sql<{ invited_count: number }>`select invited_count from users where id = ${owner.id}::uuid`.execute(app.deps.database.db)).rows;
      expect(ownerRow!.invited_count).toBe(1);
      // An audit row for every activation that was judged (the success and the refusals), none
      // for the three that never reached Postgres.
      const [audit] = (await sql<{ n: number }>`select count(*)::int as n from audit_events
        where user_id = ${user.id}::uuid and type in ('invite_activated', 'invite_failed')`.execute(app.deps.database.db)).rows;
      expect(audit!.n).toBe(total - 3);
    } finally {
      await app.close();
    }
  }, 60_000);
});


import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../apps/api/src/db/types.js';
import { generateRefreshToken, sha256 } from '../../apps/api/src/lib/secrets.js';
import { activateInvite } from '../../apps/api/src/modules/invites/invites.repository.js';
import { openLoginSessionWithFreshCode, rotateRefreshToken } from '../../apps/api/src/modules/sessions/sessions.repository.js';
import { forEachConcurrently } from './concurrency.js';
import { phoneOf } from './seed.js';

/*
 * The base invite tree, seeded through the API's own repositories (see seed.ts for the set-based
 * bulk of the scale runs). This module imports the API's source, which needs the contract
 * package built: the bench loads it only after its build step (a dynamic import in index.ts).
 */

const DAY_MS = 86_400_000;
const SEED_EPOCH = Date.parse('2026-01-01T00:00:00Z');
/** Seeded user n signed up n seconds after 2026-01-01 and activated its inviter's code then too. */
const seededAt = (n: number) => new Date(SEED_EPOCH + n * 1000);

export interface SeededUser {
  id: string;
  inviteCode: string;
}

/**
 * Users n = 1…count through the API's repositories, `concurrency` statements at a time:
 * 1. a first login each (openLoginSessionWithFreshCode, the API's own: the user with a random
 *    invite code; a session; a refresh token; the `otp_verified` and `login` audit rows);
 * 2. a refresh each (rotateRefreshToken: that token spent, a new one current, a
 *    `token_refreshed` audit row);
 * 3. for n ≥ 10, the activation of user ⌊n/10⌋'s code (activateInvite: the invite relation,
 *    the inviter's count, the `invite_activated` audit row) — a tree in which every user up to
 *    count/10 invited 10 others.
 * Times are seededAt(n), so pages and orders are reproducible; sessions stay live for 30 days.
 * Returns user n's id and code at index n − 1.
 */
export async function seedUsers(db: Kysely<Database>, count: number, concurrency = 16): Promise<SeededUser[]> {
  const users: SeededUser[] = new Array(count);
  const expiresAt = new Date(Date.now() + 30 * DAY_MS);
  const tokens: string[] = new Array(count);
  await forEachConcurrently(count, concurrency, async (i) => {
    const n = i + 1;
    const refreshToken = generateRefreshToken();
    const outcome = await openLoginSessionWithFreshCode(db, {
      phone: phoneOf(n),
      sessionId: randomUUID(),
      now: seededAt(n),
      expiresAt,
      refreshHash: sha256(refreshToken),
      ip: '10.0.0.1',
      userAgent: 'bench-seed',
    });
    if (outcome.kind !== 'opened' || !outcome.created) throw new Error(`seed: user ${n} was not created (${outcome.kind})`);
    users[i] = { id: outcome.userId, inviteCode: outcome.inviteCode };
    tokens[i] = refreshToken;
  });
  await forEachConcurrently(count, concurrency, async (i) => {
    const rotated = await rotateRefreshToken(db, {
      oldHash: sha256(tokens[i] as string),
      newHash: sha256(generateRefreshToken()),
      now: new Date(seededAt(i + 1).getTime() + DAY_MS),
      expiresAt,
      ip: '10.0.0.1',
    });
    if (rotated.kind !== 'rotated') throw new Error(`seed: user ${i + 1}'s refresh was ${rotated.kind}`);
  });
  const invitees = Math.max(0, count - 9);
  await forEachConcurrently(invitees, concurrency, async (k) => {
    const n = k + 10;
    const inviter = users[Math.floor(n / 10) - 1] as SeededUser;
    const outcome = await activateInvite(db, { userId: (users[n - 1] as SeededUser).id, code: inviter.inviteCode, now: seededAt(n), ip: '10.0.0.1' });
    if (outcome.kind !== 'activated') throw new Error(`seed: user ${n}'s activation was ${outcome.kind}`);
  });
  return users;
}

import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { pino } from 'pino';
import { AppError } from '../../lib/errors.js';
import { loadSigningKeys, type SigningKeys } from './signing-keys.js';
import { createTokenService, createVerifiedTokenCache, type AccessClaims } from './token.service.js';

const claims = (over: Partial<AccessClaims> = {}): AccessClaims => ({
  sub: 'u',
  sid: 's',
  phone_number: '+79123456789',
  iat: 1000,
  exp: 1900,
  ...over,
});

describe('verified token cache', () => {
  it('serves an entry only while its exp (with 5 s tolerance) is in the future, then drops it', () => {
    const cache = createVerifiedTokenCache(10);
    cache.set('t', claims(), 1_000_000);
    expect(cache.get('t', 1_500_000)).toEqual(claims());
    expect(cache.get('t', 1_904_000)).toEqual(claims());
    expect(cache.get('t', 1_905_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('refuses an entry whose iat is more than 60 s ahead of the clock (clock moved back)', () => {
    const cache = createVerifiedTokenCache(10);
    cache.set('t', claims(), 1_000_000);
    expect(cache.get('t', 939_000)).toBeUndefined();
  });

  it('never holds more than its bound: expired entries go first, then the oldest', () => {
    const cache = createVerifiedTokenCache(3);
    cache.set('old', claims({ exp: 1010 }), 1_000_000);
    cache.set('a', claims(), 1_000_000);
    cache.set('b', claims(), 1_000_000);
    cache.set('c', claims(), 1_100_000); // full: 'old' has expired and is swept
    expect(cache.size).toBe(3);
    expect(cache.get('a', 1_100_000)).toBeDefined();
    cache.set('d', claims(), 1_100_000); // full, nothing expired: the oldest ('a') goes
    expect(cache.size).toBe(3);
    expect(cache.get('a', 1_100_000)).toBeUndefined();
    expect(cache.get('d', 1_100_000)).toBeDefined();
  });

  it('when full, sweeps for expired entries at most once a second; in between it evicts the oldest', () => {
    const cache = createVerifiedTokenCache(3);
    cache.set('a', claims(), 1_000_000);
    cache.set('b', claims(), 1_000_000);
    cache.set('x', claims({ exp: 1095 }), 1_000_000); // live until 1 100 000 (5 s tolerance)
    cache.set('c', claims(), 1_099_600); // full: sweep (nothing expired yet), then the oldest ('a') goes
    expect(cache.get('a', 1_099_600)).toBeUndefined();
    cache.set('d', claims(), 1_100_100); // 'x' has expired, but the last sweep was 0.5 s ago: the oldest ('b') goes
    expect(cache.size).toBe(3);
    expect(cache.get('b', 1_100_100)).toBeUndefined();
    cache.set('e', claims(), 1_100_700); // a second since the last sweep: 'x' is swept, nothing live is lost
    expect(cache.size).toBe(3);
    expect(['c', 'd', 'e'].map((t) => cache.get(t, 1_100_700) !== undefined)).toEqual([true, true, true]);
  });

  it('a token verified twice at once takes one entry and evicts nothing', () => {
    const cache = createVerifiedTokenCache(2);
    cache.set('a', claims(), 1_000_000);
    cache.set('b', claims(), 1_000_000);
    cache.set('b', claims(), 1_000_000);
    expect(['a', 'b'].map((t) => cache.get(t, 1_000_000) !== undefined)).toEqual([true, true]);
  });

  it('holds nothing with size 0 (cache disabled)', () => {
    const cache = createVerifiedTokenCache(0);
    cache.set('t', claims(), 1_000_000);
    expect(cache.get('t', 1_000_000)).toBeUndefined();
  });
});

describe('token service with the cache', () => {
  let dir: string;
  let keys: SigningKeys;
  let now = Date.UTC(2026, 0, 1);
  const clock = { now: () => now };
  const config = { issuer: 'phone-auth', audience: 'phone-auth', accessTtlSeconds: 900, verifiedTokenCacheSize: 100 };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'token-cache-'));
    keys = await loadSigningKeys({ privateKey: undefined, previousPublicKeys: undefined, dataDir: dir }, pino({ level: 'silent' }));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts a token again from the cache, and refuses it once it expires', async () => {
    const tokens = createTokenService({ keys, clock, config });
    const token = await tokens.issueAccessToken({ userId: 'u1', sessionId: 's1', phone: '+79123456789' });
    const first = await tokens.verifyAccessToken(token);
    expect(await tokens.verifyAccessToken(token)).toEqual(first);
    now += 906_000;
    await expect(tokens.verifyAccessToken(token)).rejects.toBeInstanceOf(AppError);
  });

  it('does not let a tampered token ride on a cached one', async () => {
    const tokens = createTokenService({ keys, clock, config });
    const token = await tokens.issueAccessToken({ userId: 'u2', sessionId: 's2', phone: '+79123456789' });
    await tokens.verifyAccessToken(token);
    const [h, p, sig] = token.split('.') as [string, string, string];
    const forged = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    forged.sub = 'someone-else';
    const tampered = `${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${sig}`;
    await expect(tokens.verifyAccessToken(tampered)).rejects.toBeInstanceOf(AppError);
    await expect(tokens.verifyAccessToken(`${token}x`)).rejects.toBeInstanceOf(AppError);
  });
});

describe('issued access tokens are standard JWTs (signed with node:crypto, verified by jose)', () => {
  const clock = { now: () => Date.UTC(2026, 0, 1) };
  const config = { issuer: 'iss-x', audience: 'aud-y', accessTtlSeconds: 900 };
  const ecPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const edPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  it.each([
    ['EdDSA', edPem],
    ['ES256', ecPem],
  ] as const)('%s: jose verifies the token against the published JWKS, with every claim', async (alg, pem) => {
    const keys = await loadSigningKeys({ privateKey: pem, previousPublicKeys: undefined, dataDir: '/nonexistent' }, pino({ level: 'silent' }));
    const tokens = createTokenService({ keys, clock, config });
    const token = await tokens.issueAccessToken({ userId: 'user-1', sessionId: 'session-1', phone: '+79123456789' });
    expect(decodeProtectedHeader(token)).toEqual({ alg, kid: keys.current.kid, typ: 'at+jwt' });
    const { payload } = await jwtVerify(token, createLocalJWKSet(keys.jwks), {
      algorithms: [alg],
      issuer: 'iss-x',
      audience: 'aud-y',
      typ: 'at+jwt',
      currentDate: new Date(clock.now()),
    });
    const iat = clock.now() / 1000;
    expect(payload).toEqual({ sub: 'user-1', sid: 'session-1', phone_number: '+79123456789', iss: 'iss-x', aud: 'aud-y', iat, exp: iat + 900 });
    // ES256 signatures are the raw 64-byte r||s of RFC 7518, not DER.
    if (alg === 'ES256') expect(Buffer.from(token.split('.')[2]!, 'base64url')).toHaveLength(64);
    // And our own verification accepts it.
    expect((await tokens.verifyAccessToken(token)).sub).toBe('user-1');
  });
});

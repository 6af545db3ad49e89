import { jwtVerify, type JWTHeaderParameters } from 'jose';
import { AppError } from '../../lib/errors.js';
import type { Clock } from '../../lib/clock.js';
import { createJwsSigner } from './jws-signer.js';
import type { SigningKeys } from './signing-keys.js';

export interface AccessClaims {
  /** user id */
  sub: string;
  /** session id */
  sid: string;
  phone_number: string;
  iat: number;
  exp: number;
}

export interface TokenService {
  issueAccessToken(claims: { userId: string; sessionId: string; phone: string }): Promise<string>;
  /** Verifies signature (pinned algorithm by `kid`), issuer, audience and expiry. */
  verifyAccessToken(token: string): Promise<AccessClaims>;
  readonly accessTtlSeconds: number;
  jwks(): SigningKeys['jwks'];
}

const MAX_TOKEN_LENGTH = 4096;
/** Seconds of clock skew tolerated on `exp` (the same for a fresh and a cached verification). */
const CLOCK_TOLERANCE_SECONDS = 5;
/** A token whose `iat` is further than this in the future was not issued by us. */
const MAX_IAT_SKEW_SECONDS = 60;
/** A full verified-token cache looks for expired entries at most this often. */
const SWEEP_INTERVAL_MS = 1000;

/**
 * Access tokens whose signature, algorithm, issuer, audience and type were verified, keyed by the
 * exact token string. A client sends the same token with every request for up to
 * ACCESS_TOKEN_TTL_SECONDS; checking its Ed25519 signature each time was the largest CPU cost of
 * an authenticated request (bench/README: Performance). A hit skips only the signature check:
 * the time claims (`exp`, `iat`) are checked again against the clock on every hit, an entry is
 * dropped once it expires, and the session is still checked on every request (the denylist,
 * or the profile reads' own query). The key set is fixed for the life of the process (keys rotate by
 * restarting with new JWT_* settings), so a verdict cannot go stale. Bounded: when full,
 * expired entries are swept (at most once a second) and then the oldest are evicted.
 */
export function createVerifiedTokenCache(maxEntries: number) {
  const entries = new Map<string, AccessClaims>();
  // When the cache is full, expired entries are swept at most once a second (a pass over every
  // entry); in between, an insertion evicts the oldest entry. Sweeping on every insertion made
  // each new token cost a pass over the whole cache once it was full of live tokens — the API's
  // CPU per activation grew round after round in the bench (POST /profile/, fresh tokens).
  let nextSweepMs = 0;
  return {
    get size() {
      return entries.size;
    },
    get(token: string, nowMs: number): AccessClaims | undefined {
      const claims = entries.get(token);
      if (!claims) return undefined;
      if (!timeClaimsValid(claims, nowMs)) {
        entries.delete(token);
        return undefined;
      }
      return claims;
    },
    set(token: string, claims: AccessClaims, nowMs: number): void {
      if (maxEntries <= 0) return;
      // Two requests that missed at once verify the same token twice: the second only replaces it.
      if (entries.has(token)) {
        entries.set(token, claims);
        return;
      }
      // (A clock that went back by more than the interval also allows a sweep.)
      if (entries.size >= maxEntries && (nowMs >= nextSweepMs || nowMs < nextSweepMs - 2 * SWEEP_INTERVAL_MS)) {
        nextSweepMs = nowMs + SWEEP_INTERVAL_MS;
        for (const [k, c] of entries) if (!timeClaimsValid(c, nowMs)) entries.delete(k);
      }
      // Still full: evict the oldest insertions (Map keeps insertion order).
      for (const k of entries.keys()) {
        if (entries.size < maxEntries) break;
        entries.delete(k);
      }
      entries.set(token, claims);
    },
  };
}

/** The time checks of a verification (jose's `exp` rule and ours on `iat`), applied to a cached verdict too. */
function timeClaimsValid(claims: AccessClaims, nowMs: number): boolean {
  return claims.exp > Math.floor(nowMs / 1000) - CLOCK_TOLERANCE_SECONDS && claims.iat <= nowMs / 1000 + MAX_IAT_SKEW_SECONDS;
}

export function createTokenService(deps: {
  keys: SigningKeys;
  clock: Clock;
  config: { issuer: string; audience: string; accessTtlSeconds: number; verifiedTokenCacheSize?: number };
}): TokenService {
  const { keys, clock, config } = deps;
  const verified = createVerifiedTokenCache(config.verifiedTokenCacheSize ?? 0);
  const algorithms = [...new Set([...keys.accepted.values()].map((k) => k.alg))];
  const signJws = createJwsSigner(keys.current.alg, keys.current.privateKey);

  // The key is chosen by `kid` among the accepted keys only, and its own algorithm is required:
  // `none`, HS256-with-the-public-key and unknown keys are all refused.
  const keyFor = (header: JWTHeaderParameters) => {
    const key = header.kid ? keys.accepted.get(header.kid) : undefined;
    if (!key || header.alg !== key.alg) throw new AppError('UNAUTHORIZED');
    return key.key;
  };

  return {
    accessTtlSeconds: config.accessTtlSeconds,
    jwks: () => keys.jwks,

    async issueAccessToken({ userId, sessionId, phone }) {
      const now = Math.floor(clock.now() / 1000);
      return signJws(
        { kid: keys.current.kid, typ: 'at+jwt' },
        {
          sid: sessionId,
          phone_number: phone,
          sub: userId,
          iss: config.issuer,
          aud: config.audience,
          iat: now,
          exp: now + config.accessTtlSeconds,
        },
      );
    },

    async verifyAccessToken(token) {
      if (token.length > MAX_TOKEN_LENGTH) throw new AppError('UNAUTHORIZED');
      const cached = verified.get(token, clock.now());
      if (cached) return cached;
      try {
        const { payload } = await jwtVerify(token, keyFor, {
          algorithms,
          issuer: config.issuer,
          audience: config.audience,
          typ: 'at+jwt',
          currentDate: new Date(clock.now()),
          requiredClaims: ['sub', 'sid', 'iat', 'exp'],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
        });
        const { sub, sid, phone_number, iat, exp, nbf } = payload;
        if (typeof sub !== 'string' || typeof sid !== 'string' || typeof phone_number !== 'string' ||
            typeof iat !== 'number' || typeof exp !== 'number') {
          throw new AppError('UNAUTHORIZED');
        }
        // A token from the future was not issued by us (or our clock is badly off).
        if (iat > clock.now() / 1000 + MAX_IAT_SKEW_SECONDS) throw new AppError('UNAUTHORIZED');
        const claims: AccessClaims = Object.freeze({ sub, sid, phone_number, iat, exp });
        // Our tokens carry no `nbf`; one that does is verified afresh every time, never cached.
        if (nbf === undefined) verified.set(token, claims, clock.now());
        return claims;
      } catch (err) {
        if (err instanceof AppError) throw err;
        throw new AppError('UNAUTHORIZED');
      }
    },
  };
}

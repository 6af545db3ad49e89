import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { PhoneAuthError } from './errors.js';

/** The claims of a Phone Auth access token. */
export interface AccessTokenClaims {
  /** User id (UUID). */
  sub: string;
  /** Session id. */
  sid: string;
  /** E.164. */
  phone_number: string;
  iss: string;
  aud: string | string[];
  iat: number;
  exp: number;
}

export interface AccessTokenVerifierOptions {
  /** The API's base URL; the keys are read from `<baseUrl>/.well-known/jwks.json`. */
  baseUrl?: string;
  /** Or the JWKS URL itself. */
  jwksUrl?: string;
  /** Must equal the API's JWT_ISSUER. */
  issuer: string;
  /** Must equal the API's JWT_AUDIENCE. */
  audience: string;
  /** Accepted algorithms (pinned); the API signs with EdDSA by default, or ES256. */
  algorithms?: string[];
  /** Seconds of clock skew tolerated on `exp`/`iat` (default 5). */
  clockTolerance?: number;
  /** How long fetched keys are trusted before a refetch, in ms (default 10 minutes). */
  cacheMaxAge?: number;
  /** Least time between two JWKS fetches triggered by unknown `kid`s, in ms (default 30 s). */
  refetchCooldown?: number;
  /** A fetch implementation for the JWKS request; the global `fetch` by default. */
  fetch?: typeof fetch;
}

export interface AccessTokenVerifier {
  /** Verifies signature, algorithm, issuer, audience and expiry; throws PhoneAuthError UNAUTHORIZED. */
  verify(token: string): Promise<AccessTokenClaims>;
}

/**
 * For resource servers: verifies access tokens locally against the API's JWKS, without calling
 * the API per request. Keys are cached and refetched when a token names an unknown `kid` (key
 * rotation), at most once per 30 s. Being stateless, it cannot see a session revoked before the
 * token expires (at most ACCESS_TOKEN_TTL_SECONDS); call the API when that matters.
 */
export function createAccessTokenVerifier(opts: AccessTokenVerifierOptions): AccessTokenVerifier {
  const url = opts.jwksUrl ?? (opts.baseUrl ? `${opts.baseUrl.replace(/\/+$/, '')}/.well-known/jwks.json` : undefined);
  if (!url) throw new TypeError('createAccessTokenVerifier needs jwksUrl or baseUrl');
  const fetchImpl = opts.fetch;
  const keys: JWTVerifyGetKey = createRemoteJWKSet(new URL(url), {
    cacheMaxAge: opts.cacheMaxAge ?? 10 * 60_000,
    cooldownDuration: opts.refetchCooldown ?? 30_000,
    ...(fetchImpl ? { [customFetch]: (u: string, init: RequestInit) => fetchImpl(u, init) } : {}),
  });
  const algorithms = opts.algorithms ?? ['EdDSA', 'ES256'];

  return {
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, keys, {
          algorithms,
          issuer: opts.issuer,
          audience: opts.audience,
          typ: 'at+jwt',
          clockTolerance: opts.clockTolerance ?? 5,
          requiredClaims: ['sub', 'sid', 'iat', 'exp'],
        });
        const { sub, sid, phone_number, iss, aud, iat, exp } = payload;
        if (typeof sub !== 'string' || typeof sid !== 'string' || typeof phone_number !== 'string' ||
            typeof iss !== 'string' || aud === undefined || typeof iat !== 'number' || typeof exp !== 'number') {
          throw new PhoneAuthError('UNAUTHORIZED', 'The access token lacks required claims.', { status: 401 });
        }
        return { sub, sid, phone_number, iss, aud, iat, exp };
      } catch (err) {
        if (err instanceof PhoneAuthError) throw err;
        // Keys that cannot be fetched are the resource server's problem, not the caller's token:
        // a timeout, a JWKS that is not one, a network error, and jose's plain JOSEError (code
        // ERR_JOSE_GENERIC), which it throws only when the JWKS answer is not 200 or not JSON —
        // a 502 from a load balancer during a deploy must not log every user out.
        if (
          err instanceof errors.JWKSTimeout ||
          err instanceof errors.JWKSInvalid ||
          !(err instanceof errors.JOSEError) ||
          err.code === errors.JOSEError.code
        ) {
          throw new PhoneAuthError('SERVICE_UNAVAILABLE', 'The signing keys could not be fetched.', { status: 503, cause: err });
        }
        const message = err instanceof errors.JWTExpired ? 'The access token has expired.' : `The access token is not valid (${err.code}).`;
        throw new PhoneAuthError('UNAUTHORIZED', message, { status: 401, cause: err });
      }
    },
  };
}

import { SignJWT, jwtVerify, type JWTHeaderParameters } from 'jose';
import { AppError } from '../../lib/errors.js';
import type { Clock } from '../../lib/clock.js';
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

export function createTokenService(deps: {
  keys: SigningKeys;
  clock: Clock;
  config: { issuer: string; audience: string; accessTtlSeconds: number };
}): TokenService {
  const { keys, clock, config } = deps;
  const algorithms = [...new Set([...keys.accepted.values()].map((k) => k.alg))];

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
      return new SignJWT({ sid: sessionId, phone_number: phone })
        .setProtectedHeader({ alg: keys.current.alg, kid: keys.current.kid, typ: 'at+jwt' })
        .setSubject(userId)
        .setIssuer(config.issuer)
        .setAudience(config.audience)
        .setIssuedAt(now)
        .setExpirationTime(now + config.accessTtlSeconds)
        .sign(keys.current.privateKey);
    },

    async verifyAccessToken(token) {
      if (token.length > MAX_TOKEN_LENGTH) throw new AppError('UNAUTHORIZED');
      try {
        const { payload } = await jwtVerify(token, keyFor, {
          algorithms,
          issuer: config.issuer,
          audience: config.audience,
          typ: 'at+jwt',
          currentDate: new Date(clock.now()),
          requiredClaims: ['sub', 'sid', 'iat', 'exp'],
          clockTolerance: 5,
        });
        const { sub, sid, phone_number, iat, exp } = payload;
        if (typeof sub !== 'string' || typeof sid !== 'string' || typeof phone_number !== 'string' ||
            typeof iat !== 'number' || typeof exp !== 'number') {
          throw new AppError('UNAUTHORIZED');
        }
        // A token from the future was not issued by us (or our clock is badly off).
        if (iat > clock.now() / 1000 + 60) throw new AppError('UNAUTHORIZED');
        return { sub, sid, phone_number, iat, exp };
      } catch (err) {
        if (err instanceof AppError) throw err;
        throw new AppError('UNAUTHORIZED');
      }
    },
  };
}

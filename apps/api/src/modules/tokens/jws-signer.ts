import { KeyObject, sign } from 'node:crypto';
import type { CryptoKey } from 'jose';
import type { SigningAlg } from './signing-keys.js';

/**
 * Signs compact JWS (JWTs) with node:crypto, synchronously, on the calling thread.
 *
 * Why not jose's SignJWT: jose signs through WebCrypto, which runs every signature as a job on
 * libuv's thread pool and resolves a promise when it comes back. For a 30 µs Ed25519 signature the
 * hand-off costs more than the signature: under `pnpm bench`, jose's signing was ~11 % of the API's
 * CPU during PUT /auth/ (README: Performance). Verification stays with jose (`jwtVerify`, pinned
 * algorithm and key by `kid`), so every token we issue is still checked by the library, and the
 * tests verify issued tokens with jose and with the SDK's JWKS verifier.
 *
 * The format is RFC 7515 compact serialisation: BASE64URL(header) . BASE64URL(payload) .
 * BASE64URL(signature). EdDSA signs the input as is (RFC 8037); ES256 signs its SHA-256 and
 * encodes the signature as the raw 64-byte r‖s (RFC 7518 §3.4), not DER.
 */
export function createJwsSigner(alg: SigningAlg, privateKey: CryptoKey | KeyObject) {
  const key = privateKey instanceof KeyObject ? privateKey : KeyObject.from(privateKey as Parameters<typeof KeyObject.from>[0]);
  if (key.type !== 'private') throw new Error('a JWS signer needs a private key');
  const segment = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return (header: Record<string, unknown>, payload: Record<string, unknown>): string => {
    const input = `${segment({ ...header, alg })}.${segment(payload)}`;
    const data = Buffer.from(input);
    const signature = alg === 'EdDSA' ? sign(null, data, key) : sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  };
}

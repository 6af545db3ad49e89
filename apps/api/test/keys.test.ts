import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, importSPKI, jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { backends } from './support/backends.js';
import { startApp, type RestartableTestApp } from './support/app.js';

function header(token: string): { alg: string; kid: string } {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { alg: string; kid: string };
}

/** Key A: Ed25519 as PKCS#8 PEM (what `openssl genpkey -algorithm ed25519` prints). */
const a = generateKeyPairSync('ed25519');
const pemA = a.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const spkiA = a.publicKey.export({ type: 'spki', format: 'pem' }).toString();
/** Key B: P-256 as a JWK with its own kid (ES256 is accepted besides the Ed25519 default). */
const b = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwkB = JSON.stringify({ ...b.privateKey.export({ format: 'jwk' }), kid: 'key-b' });

describe.each(backends)('signing key rotation on $name', (backend) => {
  let t: RestartableTestApp | undefined;
  afterAll(async () => {
    await t?.close();
  });

  it('keeps old tokens valid after a rotation, signs new ones with the new kid, and publishes both keys', async () => {
    const kidA = await calculateJwkThumbprint(await exportJWK(await importSPKI(spkiA, 'EdDSA')), 'sha256');

    // 1. Running with key A.
    t = await startApp(backend, { persistent: true, env: { JWT_PRIVATE_KEY: pemA } });
    const before = await t.login('+79123470001');
    expect(header(before.access_token)).toMatchObject({ alg: 'EdDSA', kid: kidA });
    const jwksA = await t.request('GET', '/.well-known/jwks.json');
    expect(jwksA.body.keys.map((k: { kid: string }) => k.kid)).toEqual([kidA]);

    // 2. Rotate: B signs, A is still accepted. Nobody is logged out.
    t = await t.restart({ JWT_PRIVATE_KEY: jwkB, JWT_PREVIOUS_PUBLIC_KEYS: spkiA });
    const old = await t.request('GET', '/profile/', { token: before.access_token });
    expect(old.status).toBe(200);
    expect(old.body.phone_number).toBe('+79123470001');

    const jwks = await t.request('GET', '/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toEqual(['key-b', kidA]);
    expect(jwks.body.keys).toEqual([
      expect.objectContaining({ kid: 'key-b', kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' }),
      expect.objectContaining({ kid: kidA, kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' }),
    ]);
    for (const k of jwks.body.keys) expect(k.d).toBeUndefined();

    // The session from before the rotation refreshes into a B-signed token.
    const refreshed = await t.request('POST', '/auth/refresh', { body: { refresh_token: before.refresh_token } });
    expect(refreshed.status).toBe(200);
    expect(header(refreshed.body.access_token)).toMatchObject({ alg: 'ES256', kid: 'key-b' });
    t.clock.advance(61_000);
    const fresh = await t.login('+79123470002');
    expect(header(fresh.access_token)).toMatchObject({ alg: 'ES256', kid: 'key-b' });

    // A resource server verifies both generations with the published JWKS alone.
    const keySet = createLocalJWKSet(jwks.body);
    const opts = { issuer: 'phone-auth', audience: 'phone-auth', currentDate: new Date(t.clock.now()) };
    expect((await jwtVerify(before.access_token, keySet, opts)).protectedHeader.kid).toBe(kidA);
    expect((await jwtVerify(fresh.access_token, keySet, opts)).protectedHeader.kid).toBe('key-b');

    // 3. Once A is retired (after its tokens have expired in real life), its tokens are refused.
    t = await t.restart({ JWT_PREVIOUS_PUBLIC_KEYS: '' });
    const retired = await t.request('GET', '/profile/', { token: before.access_token });
    expect(retired.status).toBe(401);
    expect(retired.body.error.code).toBe('UNAUTHORIZED');
    expect((await t.request('GET', '/profile/', { token: fresh.access_token })).status).toBe(200);
    const jwksB = await t.request('GET', '/.well-known/jwks.json');
    expect(jwksB.body.keys.map((k: { kid: string }) => k.kid)).toEqual(['key-b']);
  });
});

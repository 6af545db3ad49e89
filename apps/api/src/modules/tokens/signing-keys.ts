import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  importPKCS8,
  importSPKI,
  type CryptoKey,
  type JWK,
} from 'jose';
import type { Logger } from '../../lib/logger.js';

export type SigningAlg = 'EdDSA' | 'ES256';

export type PublicJwk = JWK & { kty: string; kid: string; alg: SigningAlg; use: 'sig' };

export interface VerificationKey {
  kid: string;
  alg: SigningAlg;
  key: CryptoKey;
  /** Public JWK as published in the JWKS. */
  jwk: PublicJwk;
}

export interface SigningKeys {
  current: VerificationKey & { privateKey: CryptoKey };
  /** Every key a token may be signed with: the current one and the previous ones still accepted. */
  accepted: ReadonlyMap<string, VerificationKey>;
  jwks: { keys: PublicJwk[] };
}

function algOf(jwk: JWK): SigningAlg {
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  throw new Error(`unsupported key type ${jwk.kty}/${jwk.crv ?? '?'}: use Ed25519 or P-256`);
}

function publicPart(jwk: JWK): JWK {
  const { kty, crv, x, y } = jwk;
  return Object.fromEntries(Object.entries({ kty, crv, x, y }).filter(([, v]) => v !== undefined)) as JWK;
}

async function describe(publicJwk: JWK, kid: string | undefined): Promise<VerificationKey> {
  const alg = algOf(publicJwk);
  const id = kid ?? (await calculateJwkThumbprint(publicJwk, 'sha256'));
  const jwk: PublicJwk = { ...publicPart(publicJwk), kty: publicJwk.kty ?? '', kid: id, alg, use: 'sig' };
  const key = (await importJWK(jwk, alg)) as CryptoKey;
  return { kid: id, alg, key, jwk };
}

/** PEM (PKCS#8) or JWK JSON → private key + public description. */
async function loadPrivate(text: string): Promise<SigningKeys['current']> {
  const trimmed = text.trim();
  let privateJwk: JWK;
  if (trimmed.startsWith('{')) {
    privateJwk = JSON.parse(trimmed) as JWK;
  } else if (trimmed.includes('BEGIN PRIVATE KEY')) {
    // Try Ed25519 first, then P-256.
    let imported: CryptoKey | undefined;
    for (const alg of ['EdDSA', 'ES256'] as const) {
      try {
        imported = await importPKCS8(trimmed.replace(/\\n/g, '\n'), alg, { extractable: true });
        break;
      } catch {
        // next
      }
    }
    if (!imported) throw new Error('JWT_PRIVATE_KEY: PEM is not an Ed25519 or P-256 PKCS#8 private key');
    privateJwk = await exportJWK(imported);
  } else {
    throw new Error('JWT_PRIVATE_KEY must be a PKCS#8 PEM or a JWK (JSON)');
  }
  if (!privateJwk.d) throw new Error('JWT_PRIVATE_KEY: the JWK has no private part ("d")');
  const pub = await describe(privateJwk, privateJwk.kid);
  const privateKey = (await importJWK({ ...privateJwk, alg: pub.alg }, pub.alg)) as CryptoKey;
  return { ...pub, privateKey };
}

/** JWKS JSON, a JSON array of JWKs, or concatenated SPKI PEM blocks. */
async function loadPublicList(text: string): Promise<VerificationKey[]> {
  const trimmed = text.trim();
  if (!trimmed) return [];
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    const parsed = JSON.parse(trimmed) as { keys?: JWK[] } | JWK[];
    const list = Array.isArray(parsed) ? parsed : (parsed.keys ?? []);
    return Promise.all(list.map((jwk) => describe(jwk, jwk.kid)));
  }
  const pems = trimmed.replace(/\\n/g, '\n').match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
  if (pems.length === 0) throw new Error('JWT_PREVIOUS_PUBLIC_KEYS must be a JWKS, a JSON array of JWKs or SPKI PEM blocks');
  return Promise.all(
    pems.map(async (pem) => {
      for (const alg of ['EdDSA', 'ES256'] as const) {
        try {
          const key = await importSPKI(pem, alg, { extractable: true });
          return describe(await exportJWK(key), undefined);
        } catch {
          // next
        }
      }
      throw new Error('JWT_PREVIOUS_PUBLIC_KEYS: a PEM block is not an Ed25519 or P-256 public key');
    }),
  );
}

/** A development key, generated once and kept in DATA_DIR so tokens survive restarts. */
async function developmentKey(dataDir: string, log: Logger): Promise<string> {
  const file = path.join(dataDir, 'jwt-dev-key.json');
  try {
    return await readFile(file, 'utf8');
  } catch {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const jwk = await exportJWK(privateKey);
    jwk.kid = await calculateJwkThumbprint(jwk, 'sha256');
    await mkdir(dataDir, { recursive: true });
    // 'wx': if another process created it meanwhile, keep theirs.
    try {
      await writeFile(file, JSON.stringify(jwk), { mode: 0o600, flag: 'wx' });
    } catch {
      return readFile(file, 'utf8');
    }
    log.warn({ file }, 'JWT_PRIVATE_KEY is not set: generated a development signing key; set JWT_PRIVATE_KEY in production');
    return JSON.stringify(jwk);
  }
}

export async function loadSigningKeys(
  opts: { privateKey: string | undefined; previousPublicKeys: string | undefined; dataDir: string },
  log: Logger,
): Promise<SigningKeys> {
  const current = await loadPrivate(opts.privateKey ?? (await developmentKey(opts.dataDir, log)));
  const previous = await loadPublicList(opts.previousPublicKeys ?? '');
  const accepted = new Map<string, VerificationKey>([[current.kid, current]]);
  for (const k of previous) if (!accepted.has(k.kid)) accepted.set(k.kid, k);
  return { current, accepted, jwks: { keys: [...accepted.values()].map((k) => k.jwk) } };
}

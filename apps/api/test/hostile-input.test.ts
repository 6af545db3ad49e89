import { createHmac, KeyObject, sign as signBytes } from 'node:crypto';
import { connect } from 'node:net';
import { contract, ErrorBody, errorStatus, type ErrorCode } from '@phone-auth/contract';
import { isAppRoute, type AppRoute, type AppRouter } from '@ts-rest/core';
import fc from 'fast-check';
import { exportPKCS8, exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';

const ADMIN_TOKEN = 'hostile-input-admin-token-0123456789abcdef';
import { jwtPayload } from './support/concurrency.js';

/**
 * Hostile input, property-based (fast-check): random and adversarial bodies, content types,
 * headers, query strings, paths, forged tokens and raw bytes, on every endpoint of the contract.
 * Every answer must be a documented status with the error body `{"error":{"code","message"}}`
 * whose code maps to that status (or a 2xx whose body matches the contract) — never a 500 —
 * and the process keeps serving. Requests go through `app.inject` (no sockets, so thousands of
 * cases stay fast), except the raw-bytes property, which needs Node's real HTTP parser.
 */

interface Route {
  name: string;
  method: string;
  path: string;
  auth: string;
  responses: AppRoute['responses'];
}

function flatten(router: AppRouter, prefix = ''): Route[] {
  return Object.entries(router).flatMap(([key, value]) => {
    const name = prefix ? `${prefix}.${key}` : key;
    if (isAppRoute(value)) {
      const auth = (value.metadata as { auth?: string } | undefined)?.auth ?? 'none';
      return [{ name, method: value.method, path: value.path, auth, responses: value.responses }];
    }
    return flatten(value as AppRouter, name);
  });
}

const ROUTES = flatten(contract);
const USER_ROUTES = ROUTES.filter((r) => r.auth === 'user');
const DOCUMENTED = new Set(ROUTES.flatMap((r) => Object.keys(r.responses).map(Number)));

/** How many generated cases ran, per property (summed over backends), for the README figures. */
const caseCounts: Record<string, number> = {};
const runs = (name: string, numRuns: number) => {
  caseCounts[name] = (caseCounts[name] ?? 0) + numRuns;
  return { numRuns };
};

// ---------------------------------------------------------------------------------------------
// Generators

/** Strings people and attackers put in phone and code fields. */
const hostileString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }), // includes lone surrogates
  fc.string({ unit: fc.constantFrom('0', '1', '7', '8', '9', '+', ' ', '-', '(', ')', '.'), minLength: 1, maxLength: 40 }),
  // Unicode digits: full-width, Arabic-Indic, Devanagari, Bengali, mathematical bold.
  fc
    .array(fc.constantFrom(...'０１２３４５６７８９٠١٢٣٤٥٦٧٨٩०१२३४५६७८९০১২৩৪৫৬৭৮৯𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗'.match(/./gu)!), { minLength: 4, maxLength: 15 })
    .map((digits) => `+${digits.join('')}`),
  fc.constantFrom(
    "'; drop table users; --",
    "' OR '1'='1",
    '1; select pg_sleep(10)',
    '+7912345678\u0000',
    '+7\u202e9876543219',
    '+7\u200b912\u200d3456789',
    '\u0000\u0001\u0002\u001b[31m',
    '\r\n\r\nHTTP/1.1 200 OK',
    '%00%0d%0a',
    '${jndi:ldap://x}',
    '{{7*7}}',
    '__proto__',
    '+79123456789'.repeat(3),
    '８９１２３４５６７８９',
    '+7 (912) 345-67-89',
    '89123456789',
    'ABCDEF',
    'abcdef',
    ' k7m2qx ',
    'ЕГЭ123',
  ),
  fc.tuple(fc.constantFrom('+7912', '8912', '+1650', '+44 7700'), fc.string({ maxLength: 12 })).map(([a, b]) => a + b),
);

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: hostileString },
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(hostileString, { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), hostileString, { maxKeys: 3 }),
);

const FIELDS = ['phone_number', 'otp_code', 'refresh_token', 'all', 'other_profile_invite_code', '__proto__', 'constructor'];

/** A request body as bytes on the wire: shaped like ours, random JSON, or not JSON at all. */
const bodyText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(fc.constantFrom(...FIELDS), hostileValue, { maxKeys: 4 }).map((o) => JSON.stringify(o)) },
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.json(),
  fc.string(),
  fc.constantFrom(
    '',
    '{',
    '{"phone_number":',
    'null',
    '[]',
    '"x"',
    '{"a":1}{"b":2}',
    '\u0000',
    '{"__proto__":{"admin":true}}',
    '{"constructor":{"prototype":{"admin":true}}}',
    '{"phone_number":"+79123456789","phone_number":["x"]}',
    `${'['.repeat(8000)}${']'.repeat(8000)}`,
    `{"phone_number":${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}}`,
  ),
  fc.nat({ max: 40_000 }).map((n) => JSON.stringify({ phone_number: 'x'.repeat(n) })),
);

/** Media types that are certainly not JSON: a body sent with one of them is 415. */
const NOT_JSON = new Set([
  'text/plain',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/xml',
]);

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  fc.constantFrom(
    'application/json; charset=utf-8',
    'application/JSON',
    'text/plain',
    'text/html',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    'application/json; charset=utf-16',
    'application/xml',
    '',
    '*/*',
    'application/json\u00ff',
  ),
  fc.string({ unit: 'grapheme-ascii', maxLength: 30 }),
);

const queryString = fc.oneof(
  fc.dictionary(fc.constantFrom('limit', 'cursor', 'all', 'x', 'limit[]', '__proto__'), fc.oneof(hostileString, fc.integer().map(String)), { maxKeys: 3 }).map(
    (q) => Object.entries(q).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&'),
  ),
  fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).map((s) => s.replace(/[#\s]/g, '')),
  fc.constantFrom('limit=0', 'limit=1001', 'limit=-1', 'limit=1e3', 'limit=0x10', 'limit=', 'cursor=', 'cursor=%E0%A4%A', 'limit=1&limit=2', 'cursor=' + 'A'.repeat(5000), '%', '%%', 'a=%FF%FE'),
);

/** Paths near ours: real ones, with and without slashes, encoded, traversing, long. */
const pathArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ROUTES.map((r) => r.path)) },
  fc.constantFrom(...ROUTES.map((r) => r.path.replace(/\/$/, ''))),
  fc.constantFrom('//auth//', '/auth/../profile/', '/AUTH/', '/auth/%2e%2e/', '/profile/%00', '/%ff', '/auth/;x', '/profile/invited-users/', '/admin/users', '/'),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => `/${encodeURI(s)}`),
  fc.nat({ max: 3000 }).map((n) => `/${'a'.repeat(n)}`),
);

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const;

// ---------------------------------------------------------------------------------------------
// Checks

function routeFor(method: string, path: string): Route | undefined {
  // Dot segments are resolved as a URL parser resolves them (inject does, so `/auth/../profile/` is `/profile/`).
  const resolved = new URL(`http://x${path.split('?')[0]!}`).pathname;
  const bare = resolved.replace(/\/+$/, '');
  return ROUTES.find((r) => r.method === method && r.path.replace(/\/+$/, '') === bare);
}

interface Answer {
  statusCode: number;
  body: string;
  headers: Record<string, unknown>;
}

/**
 * The answer is documented: never a 5xx here (nothing is down), a status the route (or the API,
 * for unknown routes) declares, an error body whose code maps to that status, or a 2xx body that
 * matches the contract.
 */
function expectDocumented(answer: Answer, method: string, path: string, route = routeFor(method, path)): void {
  const where = `${method} ${path.slice(0, 80)} → ${answer.statusCode} ${answer.body.slice(0, 300)}`;
  expect(answer.statusCode, where).toBeLessThan(500);
  if (method === 'HEAD') return; // no body by definition
  if (answer.statusCode >= 400) {
    const parsed = ErrorBody.safeParse(JSON.parse(answer.body));
    expect(parsed.success, where).toBe(true);
    const code = parsed.data!.error.code as ErrorCode;
    expect(errorStatus[code], where).toBe(answer.statusCode);
    expect(parsed.data!.error.message.length, where).toBeGreaterThan(0);
    const allowed = route ? Object.keys(route.responses).map(Number) : [...DOCUMENTED, 404];
    expect(allowed, where).toContain(answer.statusCode);
    return;
  }
  expect(route, where).toBeDefined();
  const schema = (route!.responses as Record<number, unknown>)[answer.statusCode];
  expect(schema, where).toBeDefined();
  if (schema && typeof schema === 'object' && 'safeParse' in schema && typeof schema.safeParse === 'function') {
    expect((schema.safeParse(JSON.parse(answer.body)) as { success: boolean }).success, where).toBe(true);
  }
}

// ---------------------------------------------------------------------------------------------

describe.each(backends)('hostile input on $name', (backend) => {
  let t: TestApp;
  let privateKey: CryptoKey;
  let publicPem: string;
  let kid: string;
  let user: { access_token: string; refresh_token: string; sub: string; sid: string };
  let phoneSeq = 0;
  const freshPhone = () => `+7915${String(phoneSeq++).padStart(7, '0')}`;
  let forged: { label: string; token: string }[] = [];

  beforeAll(async () => {
    const keys = await generateKeyPair('EdDSA', { extractable: true });
    privateKey = keys.privateKey;
    publicPem = await exportSPKI(keys.publicKey);
    t = await startApp(backend, {
      env: {
        JWT_PRIVATE_KEY: await exportPKCS8(keys.privateKey),
        // Let adversarial invite codes reach the database instead of stopping at the budget.
        INVITE_MAX_FAILURES: '10000',
        OTP_MAX_FAILURES_PER_PHONE: '10000',
        LOG_LEVEL: 'warn',
        // The admin API is on, so its routes are fuzzed past the token check too.
        ADMIN_API_TOKEN: ADMIN_TOKEN,
      },
    });
    kid = (await t.request('GET', '/.well-known/jwks.json')).body.keys[0].kid;
    const login = await t.login(freshPhone());
    const claims = jwtPayload(login.access_token);
    user = { ...login, sub: String(claims.sub), sid: String(claims.sid) };
    forged = await forgeTokens();
  });

  afterAll(async () => {
    await t?.close();
  });

  async function inject(o: { method: string; url: string; headers?: Record<string, string>; payload?: string }): Promise<Answer> {
    const res = await t.app.inject({ method: o.method as 'GET', url: o.url, headers: o.headers, payload: o.payload });
    return { statusCode: res.statusCode, body: res.body, headers: res.headers };
  }

  /** Tokens an attacker would try; none of them may authenticate. */
  async function forgeTokens(): Promise<{ label: string; token: string }[]> {
    const now = Math.floor(t.clock.now() / 1000);
    const good = { sub: user.sub, sid: user.sid, phone_number: '+79150000000', iss: 'phone-auth', aud: 'phone-auth', iat: now, exp: now + 900 };
    const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
    const unsigned = (header: object, payload: object) => `${b64(header)}.${b64(payload)}`;
    // Signed by hand (jose would refuse to produce some of these): EdDSA or ES256 by the key's type.
    const sign = async (header: object, payload: object, key: CryptoKey = privateKey) => {
      const input = unsigned(header, payload);
      const k = KeyObject.from(key);
      const sig =
        k.asymmetricKeyType === 'ed25519'
          ? signBytes(null, Buffer.from(input), k)
          : signBytes('sha256', Buffer.from(input), { key: k, dsaEncoding: 'ieee-p1363' });
      return `${input}.${sig.toString('base64url')}`;
    };
    const hs256 = (header: object, payload: object, secret: Buffer | string) => {
      const input = unsigned(header, payload);
      return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
    };

    const jwk = (await t.request('GET', '/.well-known/jwks.json')).body.keys[0];
    const attacker = await generateKeyPair('EdDSA', { extractable: true });
    const attackerEc = await generateKeyPair('ES256', { extractable: true });
    const head = { alg: 'EdDSA', kid, typ: 'at+jwt' };
    const [h, p, s] = user.access_token.split('.') as [string, string, string];

    const out: { label: string; token: string }[] = [
      { label: 'alg none', token: `${unsigned({ alg: 'none', kid, typ: 'at+jwt' }, good)}.` },
      { label: 'alg none, no kid', token: `${unsigned({ alg: 'none' }, good)}.` },
      { label: 'alg NONE', token: `${unsigned({ alg: 'NONE', kid }, good)}.` },
      { label: 'HS256 with the public key bytes', token: hs256({ alg: 'HS256', kid, typ: 'at+jwt' }, good, Buffer.from(jwk.x, 'base64url')) },
      { label: 'HS256 with the public JWK', token: hs256({ alg: 'HS256', kid, typ: 'at+jwt' }, good, JSON.stringify(jwk)) },
      { label: 'HS256 with a public PEM', token: hs256({ alg: 'HS256', kid, typ: 'at+jwt' }, good, publicPem) },
      { label: 'HS256 with the kid', token: hs256({ alg: 'HS256', kid, typ: 'at+jwt' }, good, kid) },
      { label: 'attacker key, our kid', token: await sign(head, good, attacker.privateKey) },
      { label: 'attacker key, unknown kid', token: await sign({ ...head, kid: 'attacker' }, good, attacker.privateKey) },
      { label: 'attacker key, no kid', token: await sign({ alg: 'EdDSA', typ: 'at+jwt' }, good, attacker.privateKey) },
      { label: 'attacker ES256 key, our kid', token: await sign({ alg: 'ES256', kid, typ: 'at+jwt' }, good, attackerEc.privateKey) },
      {
        label: 'embedded attacker jwk header',
        token: await sign({ ...head, jwk: { kty: 'OKP', crv: 'Ed25519', x: 'AAAA' } }, good, attacker.privateKey),
      },
      { label: 'our key, wrong kid', token: await sign({ ...head, kid: `${kid}x` }, good) },
      { label: 'our key, kid path traversal', token: await sign({ ...head, kid: '../../../etc/passwd' }, good) },
      { label: 'expired', token: await sign(head, { ...good, iat: now - 3600, exp: now - 60 }) },
      { label: 'expired long ago', token: await sign(head, { ...good, iat: 0, exp: 1 }) },
      { label: 'issued in the future', token: await sign(head, { ...good, iat: now + 3600, exp: now + 4500 }) },
      { label: 'not before the future', token: await sign(head, { ...good, nbf: now + 3600 }) },
      { label: 'wrong issuer', token: await sign(head, { ...good, iss: 'evil' }) },
      { label: 'wrong audience', token: await sign(head, { ...good, aud: 'other-service' }) },
      { label: 'no audience', token: await sign(head, { ...good, aud: undefined }) },
      { label: 'wrong typ', token: await sign({ ...head, typ: 'JWT' }, good) },
      { label: 'no sid', token: await sign(head, { ...good, sid: undefined }) },
      { label: 'numeric sub', token: await sign(head, { ...good, sub: 12 }) },
      { label: 'exp as a string', token: await sign(head, { ...good, exp: String(now + 900) }) },
      { label: 'unknown crit header', token: await sign({ ...head, crit: ['x-evil'], 'x-evil': 1 }, good) },
      { label: 'tampered payload (other sub)', token: `${h}.${b64({ ...jwtPayload(user.access_token), sub: '00000000-0000-4000-8000-000000000000' })}.${s}` },
      { label: 'tampered payload (longer exp)', token: `${h}.${b64({ ...jwtPayload(user.access_token), exp: now + 10 ** 9 })}.${s}` },
      { label: 'tampered header (alg none)', token: `${b64({ alg: 'none', kid })}.${p}.${s}` },
      { label: 'signature stripped', token: `${h}.${p}.` },
      { label: 'signature of another token', token: `${h}.${p}.${(await sign(head, { ...good, sub: 'x' })).split('.')[2]}` },
      { label: 'two segments', token: `${h}.${p}` },
      { label: 'four segments', token: `${h}.${p}.${s}.${s}` },
      { label: 'huge (5 kB)', token: `${h}.${p}.${'A'.repeat(5000)}` },
      { label: 'huge (64 kB)', token: 'A'.repeat(65_536) },
      { label: 'non-UTF-8 payload', token: `${h}.${Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1]).toString('base64url')}.${s}` },
      { label: 'non-UTF-8 header', token: `${Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80]).toString('base64url')}.${p}.${s}` },
      { label: 'JSON array payload', token: `${unsigned(head, [])}.${s}` },
    ];
    return out;
  }

  it('forged tokens never authenticate, on any user route, in any header form', async () => {
    // Control: the real token works, so the property below is not vacuous.
    const control = await inject({ method: 'GET', url: '/profile/', headers: { authorization: `Bearer ${user.access_token}` } });
    expect(control.statusCode).toBe(200);

    const tokenArb = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...forged).map((f) => f.token) },
      fc.string({ unit: 'grapheme-ascii', maxLength: 200 }),
      fc.base64String({ maxLength: 300 }).map((s) => `${s}.${s}.${s}`),
      fc.tuple(fc.jsonValue(), fc.jsonValue()).map(([a, b]) => `${Buffer.from(JSON.stringify(a)).toString('base64url')}.${Buffer.from(JSON.stringify(b)).toString('base64url')}.`),
    );
    const headerForm = fc.constantFrom(
      (tk: string) => `Bearer ${tk}`,
      (tk: string) => `bearer ${tk}`,
      (tk: string) => `Bearer    ${tk}`,
      (tk: string) => `BEARER ${tk}  `,
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...USER_ROUTES), tokenArb, headerForm, async (route, token, form) => {
        const header = form(token).replace(/[\r\n]/g, '');
        const res = await inject({
          method: route.method,
          url: route.path,
          headers: { authorization: header, 'content-type': 'application/json' },
          payload: route.method === 'GET' ? undefined : '{}',
        });
        expectDocumented(res, route.method, route.path, route);
        expect(res.statusCode, `${forged.find((f) => f.token === token)?.label ?? token.slice(0, 60)}`).toBe(401);
        expect(JSON.parse(res.body).error.code).toBe('UNAUTHORIZED');
      }),
      runs('forged tokens', 800),
    );
    // Each named forgery, on its own, once more (so a failure names it).
    for (const f of forged) {
      const res = await inject({ method: 'GET', url: '/profile/', headers: { authorization: `Bearer ${f.token}` } });
      expect([f.label, res.statusCode, JSON.parse(res.body).error?.code]).toEqual([f.label, 401, 'UNAUTHORIZED']);
    }
    // The real token still works afterwards: nothing above ended the session.
    expect((await inject({ method: 'GET', url: '/profile/', headers: { authorization: `Bearer ${user.access_token}` } })).statusCode).toBe(200);
  });

  it('random and adversarial bodies and content types on every endpoint get documented answers', async () => {
    let victim = (await t.login(freshPhone())).access_token;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), bodyText, contentType, fc.boolean(), async (route, body, type, withToken) => {
        // Logout really ends the session it is given: give it a throwaway one.
        const token = route.name === 'auth.logout' ? victim : user.access_token;
        const headers: Record<string, string> = {};
        if (type) headers['content-type'] = type;
        if (withToken || route.auth === 'user') headers.authorization = `Bearer ${token}`;
        if (route.auth === 'admin') headers.authorization = `Bearer ${ADMIN_TOKEN}`;
        const res = await inject({ method: route.method, url: route.path, headers, payload: route.method === 'GET' ? undefined : body });
        expectDocumented(res, route.method, route.path, route);
        // The spec's two body rules, where the request makes the answer certain.
        if (route.method !== 'GET' && body.length > 0) {
          const code = res.statusCode >= 400 ? JSON.parse(res.body).error.code : null;
          if (NOT_JSON.has(type)) expect(code, `${type}: ${body.slice(0, 60)}`).toBe('UNSUPPORTED_MEDIA_TYPE');
          if (type === 'application/json' && Buffer.byteLength(body) > 16 * 1024) expect(code).toBe('PAYLOAD_TOO_LARGE');
        }
        if (route.name === 'auth.logout' && res.statusCode === 204) victim = (await t.login(freshPhone())).access_token;
      }),
      runs('bodies × content types', 1500),
    );
    // The shared user's session survived all of it (only the throwaway sessions were logged out).
    expect((await inject({ method: 'GET', url: '/profile/', headers: { authorization: `Bearer ${user.access_token}` } })).statusCode).toBe(200);
  });

  it('adversarial phone numbers: never a code to a number that is not plain ASCII E.164', async () => {
    const sentBefore = t.sms.sent.length;
    await fc.assert(
      fc.asyncProperty(hostileString, fc.constantFrom('POST', 'PUT'), fc.option(hostileString), async (phone, method, code) => {
        const body = method === 'POST' ? { phone_number: phone } : { phone_number: phone, otp_code: code ?? '1234' };
        const res = await inject({ method, url: '/auth/', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
        expectDocumented(res, method, '/auth/');
        const error = res.statusCode >= 400 ? (JSON.parse(res.body).error.code as string) : null;
        const allowed =
          method === 'POST'
            ? [null, 'VALIDATION_FAILED', 'PHONE_NUMBER_INVALID', 'PHONE_COUNTRY_NOT_ALLOWED', 'OTP_RESEND_TOO_SOON', 'RATE_LIMITED']
            : ['VALIDATION_FAILED', 'PHONE_NUMBER_INVALID', 'PHONE_COUNTRY_NOT_ALLOWED', 'OTP_INVALID', 'OTP_TOO_MANY_ATTEMPTS', 'RATE_LIMITED'];
        expect(allowed, `${method} ${JSON.stringify(phone)}`).toContain(error);
        // Anything but ASCII digits and the usual punctuation is refused outright.
        if (/[^0-9+ ()\-.\t\n\r\f\v\u00a0\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/u.test(phone)) expect(error).not.toBeNull();
      }),
      runs('phone fields', 800),
    );
    for (const m of t.sms.sent.slice(sentBefore)) expect(m.to).toMatch(/^\+[1-9][0-9]{6,14}$/);
    // And the table only ever holds E.164 numbers (the check constraint would refuse others).
    const phones = await t.deps.database.db.selectFrom('users').select('phone_number').execute();
    for (const { phone_number } of phones) expect(phone_number).toMatch(/^\+[1-9][0-9]{6,14}$/);
  });

  it('adversarial invite codes are refused with a documented error and activate nothing', async () => {
    const inviter = await t.login(freshPhone());
    const invitee = await t.login(freshPhone());
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileValue, hostileString.map((s) => s.slice(0, 6)), fc.stringMatching(/^[0-9A-Za-z]{6}$/)), async (code) => {
        const res = await inject({
          method: 'POST',
          url: '/profile/',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${invitee.access_token}` },
          payload: JSON.stringify({ other_profile_invite_code: code }),
        });
        expectDocumented(res, 'POST', '/profile/');
        expect(['VALIDATION_FAILED', 'INVITE_CODE_NOT_FOUND'], JSON.stringify(code)).toContain(JSON.parse(res.body).error?.code);
      }),
      runs('invite fields', 600),
    );
    const rows = await t.deps.database.db
      .selectFrom('users')
      .select(['phone_number', 'invited_by', 'invited_count'])
      .where('id', 'in', [jwtPayload(inviter.access_token).sub as string, jwtPayload(invitee.access_token).sub as string])
      .execute();
    for (const row of rows) expect([row.invited_by, row.invited_count]).toEqual([null, 0]);
  });

  it('random paths, methods, query strings and headers get documented answers', async () => {
    const headerName = fc.constantFrom('x-request-id', 'x-forwarded-for', 'user-agent', 'accept', 'accept-encoding', 'origin', 'cookie', 'x-http-method-override', 'content-length');
    const headerValue = fc.oneof(fc.string({ unit: 'grapheme-ascii', maxLength: 60 }), fc.nat({ max: 10_000 }).map((n) => 'x'.repeat(n)));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...METHODS),
        pathArb,
        queryString,
        fc.dictionary(headerName, headerValue, { maxKeys: 3 }),
        fc.boolean(),
        async (method, path, query, extra, withToken) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(extra)) if (k !== 'content-length') headers[k] = v.replace(/[\r\n\0]/g, '');
          if (withToken) headers.authorization = `Bearer ${user.access_token}`;
          const url = query ? `${path}?${query}` : path;
          const bodyless = method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'DELETE';
          if (!bodyless) headers['content-type'] = 'application/json';
          // Logout with the shared token would end it; paths for it are covered by the body property.
          if (routeFor(method, path)?.name === 'auth.logout') return;
          const res = await inject({ method, url, headers, payload: bodyless ? undefined : '{}' });
          expectDocumented(res, method, url);
          if (typeof res.headers['x-request-id'] === 'string') expect(res.headers['x-request-id']).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
        },
      ),
      runs('paths × methods × queries × headers', 1000),
    );
  });

  it('raw bytes on the wire — non-UTF-8, control characters, broken HTTP — get our error body, and the server keeps serving', async () => {
    const port = Number(new URL(t.url).port);
    const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
    const rawRequest = fc.oneof(
      // A well-formed request line with hostile header bytes.
      fc.tuple(fc.constantFrom('GET /profile/', 'POST /auth/', 'PUT /auth/', 'POST /auth/refresh'), bytes(40), bytes(200)).map(([line, header, body]) =>
        Buffer.concat([
          Buffer.from(`${line} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer `),
          header,
          Buffer.from(`\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`),
          body,
        ]),
      ),
      // Non-UTF-8 JSON bodies.
      fc.tuple(fc.constantFrom('POST /auth/', 'PUT /auth/', 'POST /auth/refresh'), bytes(100)).map(([line, junk]) => {
        const body = Buffer.concat([Buffer.from('{"phone_number":"'), junk, Buffer.from('","otp_code":"1234","refresh_token":"x"}')]);
        return Buffer.concat([Buffer.from(`${line} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]);
      }),
      // Hostile bytes in the path.
      bytes(30).map((junk) => Buffer.concat([Buffer.from('GET /profile/'), junk, Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')])),
      // Headers bigger than Node accepts.
      fc.nat({ max: 40_000 }).map((n) => Buffer.from(`GET /profile/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(n)}\r\nConnection: close\r\n\r\n`)),
      // Garbage.
      bytes(300).map((b) => Buffer.concat([b, Buffer.from('\r\n\r\n')])),
    );

    const send = (raw: Buffer) =>
      new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const socket = connect(port, '127.0.0.1', () => socket.end(raw));
        socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(err)));
        socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      });

    await fc.assert(
      fc.asyncProperty(rawRequest, async (raw) => {
        const answer = await send(raw);
        if (answer === '') return; // the server may hang up on garbage without a word
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
        expect(status, answer.slice(0, 200)).toBeLessThan(500);
        const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
        if (status >= 400 && !answer.includes('Transfer-Encoding: chunked')) {
          const parsed = ErrorBody.safeParse(JSON.parse(body));
          expect(parsed.success, answer.slice(0, 300)).toBe(true);
          expect(errorStatus[parsed.data!.error.code], answer.slice(0, 300)).toBe(status);
        }
      }),
      runs('raw bytes over TCP', 300),
    );
    const alive = await t.request('GET', '/.well-known/jwks.json');
    expect(alive.status).toBe(200);
  });

  it('logged no unexpected error through all of it', () => {
    expect(t.logs.filter((line) => line.includes('"unhandled error"'))).toEqual([]);
  });
});

afterAll(() => {
  const total = Object.values(caseCounts).reduce((a, b) => a + b, 0);
  console.info(JSON.stringify({ fastCheckCases: caseCounts, total }));
});

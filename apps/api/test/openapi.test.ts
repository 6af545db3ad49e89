import { contract } from '@phone-auth/contract';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractRoutes } from '../src/http/openapi.js';
import { embedded } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';
import { noDatabaseEnv } from './support/net.js';

/** ts-rest `:param` → OpenAPI `{param}`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

// The document depends on no storage: these apps run without a database, which keeps them fast.
describe('OpenAPI document and Swagger UI', () => {
  let t: TestApp;
  let doc: any;
  beforeAll(async () => {
    t = await startApp(embedded, { env: await noDatabaseEnv() });
    const res = await t.request('GET', '/openapi.json');
    expect(res.status).toBe(200);
    doc = res.body;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is a valid OpenAPI 3 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toMatch(/^3\./);
  });

  it('lists every route of the contract with its method, whatever the contract contains', () => {
    const routes = contractRoutes(contract);
    // auth (5) + profile (3) + ops (2) at least; routers added later are picked up by themselves.
    expect(routes.length).toBeGreaterThanOrEqual(10);
    for (const { route } of routes) {
      const op = doc.paths[openApiPath(route.path)]?.[route.method.toLowerCase()];
      expect(op, `${route.method} ${route.path} missing from the document`).toBeDefined();
      expect(op.summary).toBe(route.summary);
    }
  });

  it('maps metadata.auth to bearer security requirements', () => {
    expect(doc.components.securitySchemes.accessToken).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(doc.components.securitySchemes.adminToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const { route } of contractRoutes(contract)) {
      const op = doc.paths[openApiPath(route.path)][route.method.toLowerCase()];
      const auth = (route.metadata as { auth: string }).auth;
      const expected = auth === 'user' ? [{ accessToken: [] }] : auth === 'admin' ? [{ adminToken: [] }] : [];
      expect(op.security, `${route.method} ${route.path}`).toEqual(expected);
    }
    expect(doc.paths['/profile/'].get.security).toEqual([{ accessToken: [] }]);
    expect(doc.paths['/auth/'].put.security).toEqual([]);
  });

  it('documents request bodies, success bodies and the error body with every error code', () => {
    const requestCode = doc.paths['/auth/'].post;
    expect(requestCode.requestBody.content['application/json'].schema.required).toEqual(['phone_number']);
    expect(Object.keys(requestCode.responses)).toEqual(
      expect.arrayContaining(['200', '400', '422', '429', '500', '502', '503']),
    );
    const tokens = doc.paths['/auth/'].put.responses['200'].content['application/json'].schema;
    expect(tokens.required).toEqual(expect.arrayContaining(['access_token', 'refresh_token', 'token_type']));
    const error = requestCode.responses['422'].content['application/json'].schema;
    expect(error.properties.error.properties.code.enum).toEqual(expect.arrayContaining(['PHONE_NUMBER_INVALID', 'SERVICE_UNAVAILABLE']));
    expect(error.properties.error.required).toEqual(expect.arrayContaining(['code', 'message']));
    const notReady = doc.paths['/health/ready'].get.responses['503'].content['application/json'].schema;
    expect(notReady.properties.error.properties.checks).toBeDefined();
  });

  it('documents /metrics as Prometheus text', () => {
    expect(doc.paths['/metrics'].get.responses['200'].content['text/plain']).toBeDefined();
    // Open, or with METRICS_TOKEN set, the metrics token.
    expect(doc.paths['/metrics'].get.security).toEqual([{}, { metricsToken: [] }]);
    expect(doc.components.securitySchemes.metricsToken).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('serves Swagger UI at /docs, loading the same document', async () => {
    const page = await t.request('GET', '/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).toContain('swagger-ui');
    const json = await t.request('GET', '/docs/json');
    expect(json.status).toBe(200);
    expect(json.body.paths).toEqual(doc.paths);
    const bundle = await t.request('GET', '/docs/static/swagger-ui-bundle.js');
    expect(bundle.status).toBe(200);
  });

  it('can be switched off with DOCS_ENABLED=false', async () => {
    const off = await startApp(embedded, { env: { DOCS_ENABLED: 'false', ...(await noDatabaseEnv()) } });
    try {
      const res = await off.request('GET', '/openapi.json');
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
      expect((await off.request('GET', '/docs')).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});

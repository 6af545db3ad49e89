import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { embedded } from './support/backends.js';
import { startApp, type TestApp } from './support/app.js';

// CORS is HTTP-level behaviour, the same on every storage backend: tested on the embedded one.
describe('CORS for web apps', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(embedded, { env: { CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers a preflight from an allowed origin', async () => {
    const res = await fetch(`${t.url}/auth/`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'content-type, authorization',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(res.headers.get('access-control-allow-methods')).toContain('PUT');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
  });

  it('lets an allowed origin read responses, request ids and Retry-After', async () => {
    const res = await t.request('POST', '/auth/', {
      body: { phone_number: '+79160000001' },
      headers: { origin: 'http://localhost:5173' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(res.headers.get('access-control-expose-headers')).toMatch(/x-request-id/);
    expect(res.headers.get('access-control-expose-headers')).toMatch(/retry-after/);
  });

  it('gives other origins no CORS headers', async () => {
    const res = await t.request('POST', '/auth/', {
      body: { phone_number: '+79160000002' },
      headers: { origin: 'https://evil.example.net' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('sends no CORS headers at all when CORS_ORIGINS is unset', async () => {
    const plain = await startApp(embedded);
    try {
      const res = await plain.request('POST', '/auth/', {
        body: { phone_number: '+79160000003' },
        headers: { origin: 'https://app.example.com' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await plain.close();
    }
  });

  it('refuses a CORS_ORIGINS entry that is not an origin, naming the variable', () => {
    expect(() => loadConfig({ CORS_ORIGINS: 'https://app.example.com/path' })).toThrow(/CORS_ORIGINS/);
    expect(() => loadConfig({ CORS_ORIGINS: 'app.example.com' })).toThrow(/CORS_ORIGINS/);
    expect(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
  });
});

import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { backends } from './support/backends.js';
import { noDatabaseEnv } from './support/net.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts POST /auth/ and sends only half of its body: the request is in flight on the server
 * until `finish()` sends the rest.
 */
function startSlowRequest(port: number, phone: string) {
  const body = JSON.stringify({ phone_number: phone });
  const half = Math.floor(body.length / 2);
  const req: ClientRequest = httpRequest({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/auth/',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  });
  const response = new Promise<{ status: number; headers: IncomingMessage['headers']; body: string; at: number }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, at: Date.now() }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  req.write(body.slice(0, half));
  return { response, finish: () => req.end(body.slice(half)) };
}

/** True once nothing accepts connections on the port any more. */
async function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(25);
  }
  return false;
}

let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.cleanup();
  server = undefined;
});

describe.each(backends)('graceful shutdown of a real server process on $name', (backend) => {
  it('on SIGTERM stops accepting, finishes the request in flight, closes the pool and Redis, exits 0', async () => {
    const provisioned = await backend.provision();
    try {
      server = await startServerProcess(provisioned.env);
      const { port } = server;
      const slow = startSlowRequest(port, '+79123450501');
      await sleep(300); // let the server receive the headers and start on the request

      server.child.kill('SIGTERM');
      await server.waitForLog('shutting down: finishing requests in flight');

      // New connections are refused while the old request is still being served.
      expect(await waitUntil(() => refusesConnections(port), 5000)).toBe(true);
      await sleep(300);
      expect(server.child.exitCode).toBeNull();

      slow.finish();
      const res = await slow.response;
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ expires_in: 300, otp_code: expect.stringMatching(/^[0-9]{4}$/) });
      expect(res.headers.connection).toBe('close');

      const exit = await server.exited;
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(exit.at).toBeGreaterThanOrEqual(res.at);
      const messages = server.logs.map((l) => l.msg);
      expect(messages).toContain('shutdown complete');
      expect(messages).not.toContain('shutdown timed out: exiting with requests still in flight');
    } finally {
      await provisioned.cleanup();
    }
  });
});

describe('forced shutdown', () => {
  it('exits 1 once SHUTDOWN_TIMEOUT_MS passes with a request still in flight', async () => {
    server = await startServerProcess({ ...(await noDatabaseEnv()), SHUTDOWN_TIMEOUT_MS: '700' });
    const slow = startSlowRequest(server.port, '+79123450502');
    slow.response.catch(() => undefined); // the server goes away mid-request
    await sleep(300);
    const sent = Date.now();
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    expect(exit.code).toBe(1);
    expect(exit.at - sent).toBeGreaterThanOrEqual(600);
    expect(exit.at - sent).toBeLessThan(5000);
    expect(server.logs.map((l) => l.msg)).toContain('shutdown timed out: exiting with requests still in flight');
  });

  it('exits 1 at once on a second signal', async () => {
    server = await startServerProcess({ ...(await noDatabaseEnv()), SHUTDOWN_TIMEOUT_MS: '60000' });
    const slow = startSlowRequest(server.port, '+79123450503');
    slow.response.catch(() => undefined);
    await sleep(300);
    server.child.kill('SIGTERM');
    await server.waitForLog('shutting down: finishing requests in flight');
    const sent = Date.now();
    server.child.kill('SIGINT');
    const exit = await server.exited;
    expect(exit.code).toBe(1);
    expect(exit.at - sent).toBeLessThan(3000);
    expect(server.logs.map((l) => l.msg)).toContain('second signal: exiting without waiting for requests in flight');
  });
});

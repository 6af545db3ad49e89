import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, expectErrorLine, makeConfigHome, removeConfigHome, spawnCli, type RunOptions } from './support.js';

describe.concurrent('phone-auth CLI usage, help and connection errors', () => {
  // No server is needed: usage errors stop before any request, and the URL points nowhere.
  let configHome: string;
  beforeAll(async () => {
    configHome = await makeConfigHome();
  });
  afterAll(async () => {
    await removeConfigHome(configHome);
  });
  const run = (args: string[], opts: RunOptions = {}) => spawnCli(configHome, 'http://127.0.0.1:9', args, opts);
  const admin = (args: string[]) => run(['admin', ...args], { env: { PHONE_AUTH_ADMIN_TOKEN: ADMIN_TOKEN } });

  it.each([
    [['bogus']],
    [['admin']],
    [['admin', 'users', 'show']],
    [['admin', 'users', 'list', '--limit', 'ten']],
    [['admin', 'audit', '--type', 'nonsense']],
    [['profile', '--no-such-flag']],
    [['profile', '--url', 'ftp://example.com']],
  ])('exits 2 on wrong usage: %j', async (args) => {
    const res = await admin(args);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });

  it.each([
    [[]],
    ['login'],
    ['logout'],
    ['profile'],
    ['invite'],
    ['invite activate'],
    ['invite list'],
    ['admin'],
    ['admin users'],
    ['admin users list'],
    ['admin users show'],
    ['admin users block'],
    ['admin users unblock'],
    ['admin sessions revoke'],
    ['admin stats'],
    ['admin audit'],
  ])('has --help for %j', async (command) => {
    const words = typeof command === 'string' ? command.split(' ') : command;
    const res = await run([...words, '--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^Usage: phone-auth ${words.join(' ')}`.trimEnd()));
  });

  it('exits 1 with NETWORK_ERROR when the API is not reachable (--url beats PHONE_AUTH_URL)', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    expectErrorLine(await admin(['stats', '--url', `http://127.0.0.1:${port}`]), 1, 'NETWORK_ERROR');
  });
});

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The API is started in this process from its own test harness (real HTTP on a random port).
import { startApp, type TestApp } from '../../api/test/support/app.js';
import { backends } from '../../api/test/support/backends.js';

/**
 * The built `phone-auth` binary (dist/, built by `turbo run test` through dependsOn build) run as
 * a subprocess against a real API server: interactive login through piped stdin, every command,
 * --json output, exit codes and the one-line error messages.
 */

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/index.js');
const ADMIN_TOKEN = 'cli-test-admin-token-0123456789abcdefghijkl';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  /** Written to stdin, which is then closed. */
  input?: string;
  env?: Record<string, string>;
  /** Called with the process when stderr shows this prompt; returns what to type. */
  answer?: { prompt: string; reply: () => string };
}

function spawnCli(configHome: string, url: string, args: string[], opts: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: configHome,
        XDG_CONFIG_HOME: configHome,
        PHONE_AUTH_URL: url,
        ...opts.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let answered = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (opts.answer && !answered && stderr.includes(opts.answer.prompt)) {
        answered = true;
        child.stdin.end(`${opts.answer.reply()}\n`);
      }
    });
    if (opts.input !== undefined) child.stdin.write(opts.input);
    if (!opts.answer) child.stdin.end();
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Asserts a failed run printed exactly one clean line naming the error code. */
function expectErrorLine(res: Run, exit: number, code: string) {
  expect(res.code).toBe(exit);
  const lines = res.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^phone-auth: ${code}: `));
  expect(res.stderr).not.toMatch(/\n\s+at /);
}

describe.each(backends)('phone-auth CLI on $name', (backend) => {
  let t: TestApp;
  let configHome: string;
  const run = (args: string[], opts: RunOptions = {}) => spawnCli(configHome, t.url, args, opts);

  const admin = (args: string[], extra: RunOptions = {}) =>
    run(['admin', ...args], { ...extra, env: { PHONE_AUTH_ADMIN_TOKEN: ADMIN_TOKEN, ...extra.env } });

  /** Logs a phone in through the CLI, answering the code prompt with the code the server sent. */
  async function login(phone: string, extraArgs: string[] = []): Promise<Run> {
    t.clock.advance(61_000);
    return run(['login', phone, ...extraArgs], {
      answer: { prompt: 'Code: ', reply: () => t.sms.lastCode(phone) ?? '' },
    });
  }

  const credentials = async () =>
    JSON.parse(await readFile(path.join(configHome, 'phone-auth', 'credentials.json'), 'utf8')) as {
      servers: Record<string, { phone_number: string; access_token: string; refresh_token: string }>;
    };

  beforeAll(async () => {
    t = await startApp(backend, { env: { ADMIN_API_TOKEN: ADMIN_TOKEN } });
    configHome = await mkdtemp(path.join(tmpdir(), 'phone-auth-cli-'));
  });
  afterAll(async () => {
    await t?.close();
    if (configHome) await rm(configHome, { recursive: true, force: true });
  });

  describe('login, profile, invites, logout', () => {
    it('logs in interactively (code typed on stdin) and stores the tokens with mode 0600', async () => {
      const res = await login('+79127000001');
      expect(res.stderr).toContain('A code was sent to +79127000001');
      expect(res.stdout.trim()).toBe('Logged in as +79127000001 (new user).');
      expect(res.code).toBe(0);
      const file = path.join(configHome, 'phone-auth', 'credentials.json');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const stored = (await credentials()).servers[t.url];
      expect(stored).toMatchObject({ phone_number: '+79127000001', access_token: expect.any(String), refresh_token: expect.any(String) });
    });

    it('asks for the phone too when it is not given, and prints JSON with --json', async () => {
      t.clock.advance(61_000);
      const res = await run(['login', '--json'], {
        input: '8 912 700-00-02\n',
        answer: { prompt: 'Code: ', reply: () => t.sms.lastCode('+79127000002') ?? '' },
      });
      expect(res.stderr).toContain('Phone number: ');
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout)).toEqual({ phone_number: '+79127000002', user_created: true, url: t.url });
    });

    it('fails with exit 1 and one error line for a wrong code, and exit 2 when no code is typed', async () => {
      t.clock.advance(61_000);
      const sent = await t.request('POST', '/auth/', { body: { phone_number: '+79127000003' } });
      const wrong = sent.body.otp_code === '0000' ? '1111' : '0000';
      expectErrorLine(await run(['login', '+79127000003', '--code', wrong]), 1, 'OTP_INVALID');
      const ok = await run(['login', '+79127000003', '--code', sent.body.otp_code]);
      expect(ok.code).toBe(0);

      t.clock.advance(61_000);
      const noCode = await run(['login', '+79127000004']);
      expect(noCode.code).toBe(2);
      expect(noCode.stderr).toContain('no code given');
      expectErrorLine(await run(['login', 'hello']), 1, 'PHONE_NUMBER_INVALID');
    });

    it('shows the profile, activates an invite code and lists invitees', async () => {
      // The current login is +79127000003 (last successful login on this URL).
      const owner = await run(['profile', '--json']);
      expect(owner.code).toBe(0);
      const ownerProfile = JSON.parse(owner.stdout);
      expect(ownerProfile).toMatchObject({ phone_number: '+79127000003', invited_users: [], other_profile_invite_code: null });

      const text = await run(['profile']);
      expect(text.stdout).toMatch(/^phone\s+\+79127000003$/m);
      expect(text.stdout).toMatch(new RegExp(`^invite code\\s+${ownerProfile.invite_code}$`, 'm'));

      expect((await login('+79127000005')).code).toBe(0);
      const activated = await run(['invite', 'activate', ownerProfile.invite_code.toLowerCase()]);
      expect(activated).toMatchObject({ code: 0, stdout: `Activated invite code ${ownerProfile.invite_code}.\n` });
      expectErrorLine(await run(['invite', 'activate', ownerProfile.invite_code]), 1, 'INVITE_CODE_ALREADY_ACTIVATED');
      const asJson = await run(['invite', 'activate', 'ZZZZZZ', '--json']);
      expectErrorLine(asJson, 1, 'INVITE_CODE_ALREADY_ACTIVATED');
      expect(asJson.stdout).toBe('');

      expect((await run(['login', '+79127000003', '--code', await freshCode('+79127000003')])).code).toBe(0);
      const list = await run(['invite', 'list', '--json']);
      expect(JSON.parse(list.stdout)).toEqual([{ phone_number: '+79127000005', activated_at: expect.any(String) }]);
      const table = await run(['invite', 'list']);
      expect(table.stdout.split('\n')[0]).toMatch(/^PHONE\s+ACTIVATED$/);
      expect(table.stdout).toContain('+79127000005');
    });

    it('refreshes an expired access token transparently and saves the new tokens', async () => {
      expect((await login('+79127000006')).code).toBe(0);
      const before = (await credentials()).servers[t.url]!;
      t.clock.advance(16 * 60_000);
      const res = await run(['profile', '--json']);
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout).phone_number).toBe('+79127000006');
      const after = (await credentials()).servers[t.url]!;
      expect(after.refresh_token).not.toBe(before.refresh_token);
      expect(after.access_token).not.toBe(before.access_token);
    });

    it('logs out, forgets the tokens, and then refuses with NOT_LOGGED_IN', async () => {
      expect((await login('+79127000007')).code).toBe(0);
      const token = (await credentials()).servers[t.url]!.access_token;
      const res = await run(['logout']);
      expect(res).toMatchObject({ code: 0, stdout: 'Logged out.\n' });
      expect((await t.request('GET', '/profile/', { token })).body.error.code).toBe('SESSION_REVOKED');
      expectErrorLine(await run(['profile']), 1, 'NOT_LOGGED_IN');
      expect(JSON.parse((await run(['logout', '--json'])).stdout)).toEqual({ logged_out: false, reason: 'not logged in' });
    });

    it('logout --all ends the sessions on other devices too', async () => {
      const other = await t.login('+79127000008');
      expect((await login('+79127000008')).code).toBe(0);
      const res = await run(['logout', '--all', '--json']);
      expect(JSON.parse(res.stdout)).toEqual({ logged_out: true, all: true });
      expect((await t.request('GET', '/profile/', { token: other.access_token })).body.error.code).toBe('SESSION_REVOKED');
    });
  });

  /** Requests a code over HTTP and returns it (for `login --code`). */
  async function freshCode(phone: string): Promise<string> {
    t.clock.advance(61_000);
    const sent = await t.request('POST', '/auth/', { body: { phone_number: phone } });
    return sent.body.otp_code as string;
  }

  describe('admin', () => {
    beforeAll(async () => {
      for (const phone of ['+79127100001', '+79127100002', '+79127100003']) {
        await t.login(phone);
        t.clock.advance(1000);
      }
    });

    it('users list: table, --json, --prefix, --limit and --cursor', async () => {
      const page = await admin(['users', 'list', '--prefix', '+7912710000', '--limit', '2', '--json']);
      expect(page.code).toBe(0);
      const parsed = JSON.parse(page.stdout);
      expect(parsed.items.map((u: { phone_number: string }) => u.phone_number)).toEqual(['+79127100003', '+79127100002']);
      const rest = JSON.parse((await admin(['users', 'list', '--prefix', '7912710000', '--cursor', parsed.next_cursor, '--json'])).stdout);
      expect(rest).toEqual({ items: [expect.objectContaining({ phone_number: '+79127100001' })], next_cursor: null });

      const table = await admin(['users', 'list', '--prefix', '+7912710000', '--limit', '2']);
      const lines = table.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^PHONE\s+INVITE CODE\s+INVITED BY\s+INVITED\s+BLOCKED\s+CREATED$/);
      expect(lines[1]).toMatch(/^\+79127100003\s/);
      expect(table.stdout).toContain(`--cursor ${parsed.next_cursor}`);
    });

    it('users show: the user with sessions, in any phone format', async () => {
      const res = await admin(['users', 'show', '8 912 710-00-01', '--json']);
      expect(res.code).toBe(0);
      const user = JSON.parse(res.stdout);
      expect(user).toMatchObject({ phone_number: '+79127100001', inviter: null, blocked_at: null });
      expect(user.sessions).toHaveLength(1);
      const text = await admin(['users', 'show', '+79127100001']);
      expect(text.stdout).toMatch(/^phone\s+\+79127100001$/m);
      expect(text.stdout).toMatch(/^SESSION\s+ACTIVE/m);
      expectErrorLine(await admin(['users', 'show', '+79127199999']), 1, 'USER_NOT_FOUND');
    });

    it('users block / unblock: the user is locked out at once, then let back in', async () => {
      const { access_token } = await t.login('+79127100010');
      const blocked = await admin(['users', 'block', '+79127100010']);
      expect(blocked).toMatchObject({ code: 0, stdout: 'Blocked +79127100010; ended 1 session(s).\n' });
      expect((await t.request('GET', '/profile/', { token: access_token })).body.error.code).toBe('SESSION_REVOKED');
      expectErrorLine(await run(['login', '+79127100010', '--code', await freshCode('+79127100010')]), 1, 'USER_BLOCKED');

      const unblocked = JSON.parse((await admin(['users', 'unblock', '+79127100010', '--json'])).stdout);
      expect(unblocked.user).toMatchObject({ phone_number: '+79127100010', blocked_at: null });
      expect((await run(['login', '+79127100010', '--code', await freshCode('+79127100010')])).code).toBe(0);
      const again = JSON.parse((await admin(['users', 'block', '+79127100010', '--json'])).stdout);
      expect(again).toMatchObject({ sessions_revoked: 1, user: { blocked_at: expect.any(String) } });
    });

    it('sessions revoke: ends every session of the user', async () => {
      const one = await t.login('+79127100020');
      const res = await admin(['sessions', 'revoke', '+79127100020']);
      expect(res).toMatchObject({ code: 0, stdout: 'Ended 1 session(s) of +79127100020.\n' });
      expect((await t.request('GET', '/profile/', { token: one.access_token })).body.error.code).toBe('SESSION_REVOKED');
      const json = JSON.parse((await admin(['sessions', 'revoke', '+79127100020', '--json'])).stdout);
      expect(json).toEqual({ phone_number: '+79127100020', sessions_revoked: 0 });
    });

    it('stats: text and --json', async () => {
      const json = JSON.parse((await admin(['stats', '--json'])).stdout);
      expect(json.users_total).toBeGreaterThanOrEqual(5);
      expect(json).toMatchObject({ users_last_24h: expect.any(Number), invite_activations_total: 1 });
      expect(json.top_inviters).toEqual([expect.objectContaining({ phone_number: '+79127000003', invited_users_count: 1 })]);
      const text = await admin(['stats']);
      expect(text.stdout).toMatch(new RegExp(`^users\\s+${json.users_total}$`, 'm'));
      expect(text.stdout).toMatch(/^TOP INVITER\s+CODE\s+INVITED$/m);
    });

    it('audit: newest first, by --phone and --type', async () => {
      const res = await admin(['audit', '--phone', '+79127100020', '--json']);
      const page = JSON.parse(res.stdout);
      expect(page.items.map((e: { type: string }) => e.type).slice(0, 2)).toEqual(['sessions_revoked', 'sessions_revoked']);
      expect(page.items.every((e: { phone_number: string }) => e.phone_number === '+79127100020')).toBe(true);
      const blocked = JSON.parse((await admin(['audit', '--type', 'user_blocked', '--limit', '1', '--json'])).stdout);
      expect(blocked.items).toEqual([expect.objectContaining({ type: 'user_blocked', phone_number: '+79127100010' })]);
      expect(blocked.next_cursor).toEqual(expect.any(String));
      const text = await admin(['audit', '--type', 'user_unblocked']);
      expect(text.stdout.split('\n')[0]).toMatch(/^TIME\s+TYPE\s+PHONE\s+IP\s+DETAILS$/);
      expect(text.stdout).toContain('user_unblocked');
    });

    it('refuses a wrong admin token (exit 1, UNAUTHORIZED) and a missing one (exit 2)', async () => {
      expectErrorLine(await run(['admin', 'stats', '--admin-token', 'wrong']), 1, 'UNAUTHORIZED');
      const missing = await run(['admin', 'stats']);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('admin commands need --admin-token or PHONE_AUTH_ADMIN_TOKEN');
    });
  });
});

describe.concurrent('phone-auth CLI usage, help and connection errors', () => {
  // No server is needed: usage errors stop before any request, and the URL points nowhere.
  let configHome: string;
  beforeAll(async () => {
    configHome = await mkdtemp(path.join(tmpdir(), 'phone-auth-cli-'));
  });
  afterAll(async () => {
    if (configHome) await rm(configHome, { recursive: true, force: true });
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

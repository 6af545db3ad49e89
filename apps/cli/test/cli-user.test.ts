import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backends } from '../../api/test/support/backends.js';
import { expectErrorLine, useCliAgainstApi, type Run } from './support.js';

/**
 * The built `phone-auth` binary as a subprocess against a real API server: interactive login
 * through piped stdin, profile, invites, logout, --json output, exit codes and error lines.
 */
describe.each(backends)('phone-auth CLI (user commands) on $name', (backend) => {
  const cli = useCliAgainstApi(backend);
  const { run, freshCode } = cli;

  /** Logs a phone in through the CLI, answering the code prompt with the code the server sent. */
  async function login(phone: string, extraArgs: string[] = []): Promise<Run> {
    cli.t.clock.advance(61_000);
    return run(['login', phone, ...extraArgs], {
      answer: { prompt: 'Code: ', reply: () => cli.t.sms.lastCode(phone) ?? '' },
    });
  }

  const credentials = async () =>
    JSON.parse(await readFile(path.join(cli.configHome, 'phone-auth', 'credentials.json'), 'utf8')) as {
      servers: Record<string, { phone_number: string; access_token: string; refresh_token: string }>;
    };

  describe('login, profile, invites, logout', () => {
    it('logs in interactively (code typed on stdin) and stores the tokens with mode 0600', async () => {
      const res = await login('+79127000001');
      expect(res.stderr).toContain('A code was sent to +79127000001');
      expect(res.stdout.trim()).toBe('Logged in as +79127000001 (new user).');
      expect(res.code).toBe(0);
      const file = path.join(cli.configHome, 'phone-auth', 'credentials.json');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const stored = (await credentials()).servers[cli.t.url];
      expect(stored).toMatchObject({ phone_number: '+79127000001', access_token: expect.any(String), refresh_token: expect.any(String) });
    });

    it('asks for the phone too when it is not given, and prints JSON with --json', async () => {
      cli.t.clock.advance(61_000);
      const res = await run(['login', '--json'], {
        input: '8 912 700-00-02\n',
        answer: { prompt: 'Code: ', reply: () => cli.t.sms.lastCode('+79127000002') ?? '' },
      });
      expect(res.stderr).toContain('Phone number: ');
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout)).toEqual({ phone_number: '+79127000002', user_created: true, url: cli.t.url });
    });

    it('fails with exit 1 and one error line for a wrong code, and exit 2 when no code is typed', async () => {
      cli.t.clock.advance(61_000);
      const sent = await cli.t.request('POST', '/auth/', { body: { phone_number: '+79127000003' } });
      const wrong = sent.body.otp_code === '0000' ? '1111' : '0000';
      expectErrorLine(await run(['login', '+79127000003', '--code', wrong]), 1, 'OTP_INVALID');
      const ok = await run(['login', '+79127000003', '--code', sent.body.otp_code]);
      expect(ok.code).toBe(0);

      cli.t.clock.advance(61_000);
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
      const before = (await credentials()).servers[cli.t.url]!;
      cli.t.clock.advance(16 * 60_000);
      const res = await run(['profile', '--json']);
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout).phone_number).toBe('+79127000006');
      const after = (await credentials()).servers[cli.t.url]!;
      expect(after.refresh_token).not.toBe(before.refresh_token);
      expect(after.access_token).not.toBe(before.access_token);
    });

    it('logs out, forgets the tokens, and then refuses with NOT_LOGGED_IN', async () => {
      expect((await login('+79127000007')).code).toBe(0);
      const token = (await credentials()).servers[cli.t.url]!.access_token;
      const res = await run(['logout']);
      expect(res).toMatchObject({ code: 0, stdout: 'Logged out.\n' });
      expect((await cli.t.request('GET', '/profile/', { token })).body.error.code).toBe('SESSION_REVOKED');
      expectErrorLine(await run(['profile']), 1, 'NOT_LOGGED_IN');
      expect(JSON.parse((await run(['logout', '--json'])).stdout)).toEqual({ logged_out: false, reason: 'not logged in' });
    });

    it('logout --all ends the sessions on other devices too', async () => {
      const other = await cli.t.login('+79127000008');
      expect((await login('+79127000008')).code).toBe(0);
      const res = await run(['logout', '--all', '--json']);
      expect(JSON.parse(res.stdout)).toEqual({ logged_out: true, all: true });
      expect((await cli.t.request('GET', '/profile/', { token: other.access_token })).body.error.code).toBe('SESSION_REVOKED');
    });
  });
});

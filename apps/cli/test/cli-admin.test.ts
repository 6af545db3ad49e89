import { beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../api/test/support/backends.js';
import { ADMIN_TOKEN, expectErrorLine, useCliAgainstApi, type RunOptions } from './support.js';

/**
 * The built `phone-auth` binary as a subprocess against a real API server: every admin command,
 * text and --json output, exit codes and error lines.
 */
describe.each(backends)('phone-auth CLI (admin commands) on $name', (backend) => {
  const cli = useCliAgainstApi(backend);
  const { run, freshCode } = cli;

  const admin = (args: string[], extra: RunOptions = {}) =>
    run(['admin', ...args], { ...extra, env: { PHONE_AUTH_ADMIN_TOKEN: ADMIN_TOKEN, ...extra.env } });

  describe('admin', () => {
    beforeAll(async () => {
      for (const phone of ['+79127100001', '+79127100002', '+79127100003']) {
        await cli.t.login(phone);
        cli.t.clock.advance(1000);
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
      const { access_token } = await cli.t.login('+79127100010');
      const blocked = await admin(['users', 'block', '+79127100010']);
      expect(blocked).toMatchObject({ code: 0, stdout: 'Blocked +79127100010; ended 1 session(s).\n' });
      expect((await cli.t.request('GET', '/profile/', { token: access_token })).body.error.code).toBe('SESSION_REVOKED');
      expectErrorLine(await run(['login', '+79127100010', '--code', await freshCode('+79127100010')]), 1, 'USER_BLOCKED');

      const unblocked = JSON.parse((await admin(['users', 'unblock', '+79127100010', '--json'])).stdout);
      expect(unblocked.user).toMatchObject({ phone_number: '+79127100010', blocked_at: null });
      expect((await run(['login', '+79127100010', '--code', await freshCode('+79127100010')])).code).toBe(0);
      const again = JSON.parse((await admin(['users', 'block', '+79127100010', '--json'])).stdout);
      expect(again).toMatchObject({ sessions_revoked: 1, user: { blocked_at: expect.any(String) } });
    });

    it('sessions revoke: ends every session of the user', async () => {
      const one = await cli.t.login('+79127100020');
      const res = await admin(['sessions', 'revoke', '+79127100020']);
      expect(res).toMatchObject({ code: 0, stdout: 'Ended 1 session(s) of +79127100020.\n' });
      expect((await cli.t.request('GET', '/profile/', { token: one.access_token })).body.error.code).toBe('SESSION_REVOKED');
      const json = JSON.parse((await admin(['sessions', 'revoke', '+79127100020', '--json'])).stdout);
      expect(json).toEqual({ phone_number: '+79127100020', sessions_revoked: 0 });
    });

    it('stats: text and --json', async () => {
      const inviter = await cli.t.login('+79127100030');
      const invitee = await cli.t.login('+79127100031');
      const code = (await cli.t.request('GET', '/profile/', { token: inviter.access_token })).body.invite_code;
      await cli.t.request('POST', '/profile/', { token: invitee.access_token, body: { other_profile_invite_code: code } });
      const json = JSON.parse((await admin(['stats', '--json'])).stdout);
      expect(json.users_total).toBeGreaterThanOrEqual(5);
      expect(json).toMatchObject({ users_last_24h: json.users_total, invite_activations_total: 1, users_blocked: 1 });
      expect(json.top_inviters).toEqual([{ phone_number: '+79127100030', invite_code: code, invited_users_count: 1 }]);
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

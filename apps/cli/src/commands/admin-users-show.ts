import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { print, printFields, printJson, printTable } from '../output.js';

export function registerAdminUsersShow(users: Command): void {
  users
    .command('show')
    .description('show one user with their inviter and sessions')
    .argument('<phone>', 'phone number, any common format')
    .action(async (phone: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const user = await ctx.admin().admin.getUser(phone);
      if (ctx.json) return printJson(user);
      printFields([
        ['phone', user.phone_number],
        ['id', user.id],
        ['invite code', user.invite_code],
        ['invited by', user.inviter ? `${user.inviter.phone_number} (code ${user.inviter.invite_code}, ${user.inviter.activated_at})` : null],
        ['invited users', user.invited_users_count],
        ['blocked', user.blocked_at ?? 'no'],
        ['created', user.created_at],
      ]);
      print();
      if (user.sessions.length === 0) return print('No sessions.');
      printTable(
        ['SESSION', 'ACTIVE', 'CREATED', 'LAST USED', 'REVOKED', 'IP'],
        user.sessions.map((s) => [s.id, s.active ? 'yes' : 'no', s.created_at, s.last_used_at, s.revoked_reason, s.ip]),
      );
    });
}

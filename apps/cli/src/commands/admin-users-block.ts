import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { print, printJson } from '../output.js';

export function registerAdminUsersBlock(users: Command): void {
  users
    .command('block')
    .description('block a user: ends all their sessions at once and refuses new logins')
    .argument('<phone>', 'phone number, any common format')
    .action(async (phone: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const res = await ctx.admin().admin.blockUser(phone);
      if (ctx.json) printJson(res);
      else print(`Blocked ${res.user.phone_number}; ended ${res.sessions_revoked} session(s).`);
    });
}

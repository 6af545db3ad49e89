import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { print, printJson } from '../output.js';

export function registerAdminUsersUnblock(users: Command): void {
  users
    .command('unblock')
    .description('unblock a user (they log in again with a new code)')
    .argument('<phone>', 'phone number, any common format')
    .action(async (phone: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const res = await ctx.admin().admin.unblockUser(phone);
      if (ctx.json) printJson(res);
      else print(`Unblocked ${res.user.phone_number}.`);
    });
}

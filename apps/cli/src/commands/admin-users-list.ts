import type { Command } from 'commander';
import { contextOf, positiveInt } from '../context.js';
import { print, printJson, printTable } from '../output.js';

export function registerAdminUsersList(users: Command): void {
  users
    .command('list')
    .description('list users, newest first, one page at a time')
    .option('--prefix <phone>', 'only phones starting with this (E.164 digits, e.g. +7912)')
    .option('--limit <n>', 'users per page (1-1000)', positiveInt(1000), 50)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (opts: { prefix?: string; limit: number; cursor?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const page = await ctx.admin().admin.listUsers({ limit: opts.limit, cursor: opts.cursor, phonePrefix: opts.prefix });
      if (ctx.json) return printJson(page);
      if (page.items.length === 0) return print('No users.');
      printTable(
        ['PHONE', 'INVITE CODE', 'INVITED BY', 'INVITED', 'BLOCKED', 'CREATED'],
        page.items.map((u) => [u.phone_number, u.invite_code, u.invited_by, u.invited_users_count, u.blocked_at ? 'yes' : 'no', u.created_at]),
      );
      if (page.next_cursor) print(`\nMore: phone-auth admin users list --cursor ${page.next_cursor}`);
    });
}

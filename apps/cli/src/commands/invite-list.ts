import type { Command } from 'commander';
import type { InvitedUser } from '@phone-auth/client';
import { contextOf } from '../context.js';
import { print, printJson, printTable } from '../output.js';

export function registerInviteList(invite: Command): void {
  invite
    .command('list')
    .description('list every user who activated your invite code, oldest first')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { client } = await ctx.user();
      const users: InvitedUser[] = [];
      for await (const user of client.invitedUsers({ pageSize: 1000 })) users.push(user);
      if (ctx.json) return printJson(users);
      if (users.length === 0) return print('Nobody has activated your invite code yet.');
      printTable(['PHONE', 'ACTIVATED'], users.map((u) => [u.phone_number, u.activated_at]));
    });
}

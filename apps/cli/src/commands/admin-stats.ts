import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { print, printFields, printJson, printTable } from '../output.js';

export function registerAdminStats(admin: Command): void {
  admin
    .command('stats')
    .description('users total and in the last 24 h, invite activations, top inviters')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const stats = await ctx.admin().admin.stats();
      if (ctx.json) return printJson(stats);
      printFields([
        ['users', stats.users_total],
        ['new in 24 h', stats.users_last_24h],
        ['blocked', stats.users_blocked],
        ['invite activations', stats.invite_activations_total],
        ['activations in 24 h', stats.invite_activations_last_24h],
        ['active sessions', stats.active_sessions],
      ]);
      if (stats.top_inviters.length === 0) return;
      print();
      printTable(['TOP INVITER', 'CODE', 'INVITED'], stats.top_inviters.map((t) => [t.phone_number, t.invite_code, t.invited_users_count]));
    });
}

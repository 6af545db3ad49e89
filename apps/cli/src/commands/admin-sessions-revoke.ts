import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { print, printJson } from '../output.js';

export function registerAdminSessionsRevoke(sessions: Command): void {
  sessions
    .command('revoke')
    .description("end every session of a user; their access tokens are refused at once")
    .argument('<phone>', 'phone number, any common format')
    .action(async (phone: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const res = await ctx.admin().admin.revokeSessions(phone);
      if (ctx.json) printJson(res);
      else print(`Ended ${res.sessions_revoked} session(s) of ${res.phone_number}.`);
    });
}

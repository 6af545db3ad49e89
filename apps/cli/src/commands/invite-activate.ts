import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { print, printJson } from '../output.js';

export function registerInviteActivate(invite: Command): void {
  invite
    .command('activate')
    .description("activate another user's invite code (once per user, ever)")
    .argument('<code>', 'the 6-character invite code (case-insensitive)')
    .action(async (code: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { client } = await ctx.user();
      const res = await client.activateInviteCode(code);
      if (ctx.json) printJson(res);
      else print(`Activated invite code ${res.other_profile_invite_code}.`);
    });
}

import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { print, printFields, printJson } from '../output.js';

export function registerProfile(program: Command): void {
  program
    .command('profile')
    .description('show your profile: phone, invite code, activated code, invitees')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { client } = await ctx.user();
      const profile = await client.getProfile();
      if (ctx.json) return printJson(profile);
      printFields([
        ['phone', profile.phone_number],
        ['invite code', profile.invite_code],
        ['activated code', profile.other_profile_invite_code],
        ['invited users', profile.invited_users_count],
      ]);
      for (const phone of profile.invited_users) print(`  ${phone}`);
      if (profile.invited_users_next_cursor) print('  … (phone-auth invite list shows all)');
    });
}

import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { loadCredentials, removeCredentials } from '../credentials.js';
import { print, printJson } from '../output.js';
import { isPhoneAuthError } from '@phone-auth/client';

export function registerLogout(program: Command): void {
  program
    .command('logout')
    .description('end this session (or all of your sessions) and forget the stored tokens')
    .option('--all', 'end every session of the user, on every device')
    .action(async (opts: { all?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      if (!(await loadCredentials(ctx.url))) {
        if (ctx.json) printJson({ logged_out: false, reason: 'not logged in' });
        else print(`Not logged in to ${ctx.url}.`);
        return;
      }
      const { client } = await ctx.user();
      try {
        await client.logout({ all: opts.all === true });
      } catch (err) {
        // The session is already over on the server: the stored tokens are useless either way.
        if (isPhoneAuthError(err, 'SESSION_REVOKED', 'UNAUTHORIZED', 'REFRESH_TOKEN_INVALID', 'REFRESH_TOKEN_REUSED')) {
          await removeCredentials(ctx.url);
        }
        throw err;
      }
      await removeCredentials(ctx.url);
      if (ctx.json) printJson({ logged_out: true, all: opts.all === true });
      else print(opts.all ? 'Logged out of every session.' : 'Logged out.');
    });
}

import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { saveCredentials } from '../credentials.js';
import { UsageError } from '../errors.js';
import { print, printJson } from '../output.js';
import { ask } from '../prompt.js';

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('log in: request a code by SMS, enter it, and store the tokens')
    .argument('[phone]', 'phone number (asked for when omitted)')
    .option('--code <code>', 'a code you already received: skip requesting a new one and verify this one')
    .addHelpText(
      'after',
      '\nThe tokens are stored in $XDG_CONFIG_HOME/phone-auth/credentials.json (mode 0600), per API URL.\n' +
        'Prompts go to stderr and answers are read from stdin, so `printf "1234\\n" | phone-auth login +79123456789` works.',
    )
    .action(async (phoneArg: string | undefined, opts: { code?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const phone = phoneArg ?? (await ask('Phone number: '));
      if (!phone) throw new UsageError('no phone number given');
      const client = ctx.anonymous();
      let code = opts.code;
      if (code === undefined) {
        const sent = await client.requestCode(phone);
        process.stderr.write(`A code was sent to ${phone}; it expires in ${sent.expires_in} s.\n`);
        code = (await ask('Code: ')) ?? undefined;
        if (!code) throw new UsageError('no code given');
      }
      const tokens = await client.verifyCode(phone, code);
      // The normalised (E.164) number to show and store: the access token carries it (API.md), so
      // no GET /profile/ round trip is needed; the profile remains the fallback.
      const phoneNumber = phoneClaim(tokens.access_token) ?? (await client.getProfile()).phone_number;
      await saveCredentials(ctx.url, {
        phone_number: phoneNumber,
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        saved_at: new Date().toISOString(),
      });
      if (ctx.json) {
        printJson({ phone_number: phoneNumber, user_created: tokens.user_created, url: ctx.url });
      } else {
        print(`Logged in as ${phoneNumber}${tokens.user_created ? ' (new user)' : ''}.`);
      }
    });
}

/** The `phone_number` claim of a token the API has just issued (read, not verified). */
function phoneClaim(accessToken: string): string | undefined {
  try {
    const claims: unknown = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8'));
    const phone = (claims as { phone_number?: unknown } | null)?.phone_number;
    return typeof phone === 'string' ? phone : undefined;
  } catch {
    return undefined;
  }
}

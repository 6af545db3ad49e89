#!/usr/bin/env node
import { isPhoneAuthError } from '@phone-auth/client';
import { Command, CommanderError, Option } from 'commander';
import { registerAdminAudit } from './commands/admin-audit.js';
import { registerAdminSessionsRevoke } from './commands/admin-sessions-revoke.js';
import { registerAdminStats } from './commands/admin-stats.js';
import { registerAdminUsersBlock } from './commands/admin-users-block.js';
import { registerAdminUsersList } from './commands/admin-users-list.js';
import { registerAdminUsersShow } from './commands/admin-users-show.js';
import { registerAdminUsersUnblock } from './commands/admin-users-unblock.js';
import { registerLogin } from './commands/auth-login.js';
import { registerLogout } from './commands/auth-logout.js';
import { registerInviteActivate } from './commands/invite-activate.js';
import { registerInviteList } from './commands/invite-list.js';
import { registerProfile } from './commands/profile-show.js';
import { DEFAULT_URL } from './context.js';
import { CliError, UsageError } from './errors.js';
import { closePrompt } from './prompt.js';

/** Exit codes: 0 success, 1 API or network error, 2 wrong usage. */
const EXIT_ERROR = 1;
const EXIT_USAGE = 2;

function buildProgram(): Command {
  const program = new Command('phone-auth')
    .description('Operator CLI of the Phone Auth API')
    .version('0.1.0')
    // Every subcommand inherits these: usage errors come back as exceptions (exit code 2, below).
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addOption(new Option('--url <url>', 'API base URL').env('PHONE_AUTH_URL').default(DEFAULT_URL))
    .addOption(new Option('--admin-token <token>', 'admin API token (ADMIN_API_TOKEN of the server)').env('PHONE_AUTH_ADMIN_TOKEN'))
    .option('--json', 'print machine-readable JSON on stdout', false)
    .addHelpText(
      'after',
      '\nExit codes: 0 success, 1 API or network error (one line on stderr naming the error code), 2 wrong usage.',
    );

  registerLogin(program);
  registerLogout(program);
  registerProfile(program);

  const invite = program.command('invite').description('invite codes');
  registerInviteActivate(invite);
  registerInviteList(invite);

  const admin = program.command('admin').description('admin API (needs --admin-token or PHONE_AUTH_ADMIN_TOKEN)');
  const users = admin.command('users').description('inspect, block and unblock users');
  registerAdminUsersList(users);
  registerAdminUsersShow(users);
  registerAdminUsersBlock(users);
  registerAdminUsersUnblock(users);
  const sessions = admin.command('sessions').description("end a user's sessions");
  registerAdminSessionsRevoke(sessions);
  registerAdminStats(admin);
  registerAdminAudit(admin);
  return program;
}

function fail(line: string, code: number): never {
  process.stderr.write(`phone-auth: ${line}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    // Commander already printed its message (or the help); only the exit code is left to set.
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
    if (err instanceof UsageError) fail(`${err.message} (run with --help for usage)`, EXIT_USAGE);
    if (isPhoneAuthError(err)) fail(`${err.code}: ${err.message}`, EXIT_ERROR);
    if (err instanceof CliError) fail(`${err.code}: ${err.message}`, EXIT_ERROR);
    if (process.env.PHONE_AUTH_DEBUG) console.error(err);
    fail(`unexpected error: ${err instanceof Error ? err.message : String(err)}`, EXIT_ERROR);
  } finally {
    closePrompt();
  }
}

await main();

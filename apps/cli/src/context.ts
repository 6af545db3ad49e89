import { createPhoneAuthClient, type PhoneAuthClient } from '@phone-auth/client';
import { InvalidArgumentError, type Command } from 'commander';
import { loadCredentials, removeCredentials, saveCredentials, type Credentials } from './credentials.js';
import { CliError, UsageError } from './errors.js';

export const DEFAULT_URL = 'http://127.0.0.1:3000';
export const USER_AGENT = 'phone-auth-cli/0.1.0';

export interface GlobalOptions {
  url: string;
  adminToken?: string;
  json: boolean;
}

export interface Context {
  url: string;
  json: boolean;
  /** An SDK client without user tokens (login). */
  anonymous(): PhoneAuthClient;
  /** An SDK client with the stored tokens; refreshed tokens are saved back. */
  user(): Promise<{ client: PhoneAuthClient; creds: Credentials }>;
  /** An SDK client with the admin token; wrong usage when none is given. */
  admin(): PhoneAuthClient;
}

/** Options of the root command (and env fallbacks) for a subcommand's action. */
export function contextOf(cmd: Command): Context {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  const url = opts.url.replace(/\/+$/, '');
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('protocol');
  } catch {
    throw new UsageError(`--url must be an http(s) URL, got "${opts.url}"`);
  }
  const headers = { 'user-agent': USER_AGENT };
  return {
    url,
    json: Boolean(opts.json),
    anonymous: () => createPhoneAuthClient({ baseUrl: url, headers }),
    async user() {
      const creds = await loadCredentials(url);
      if (!creds) throw new CliError('NOT_LOGGED_IN', `not logged in to ${url}; run phone-auth login first`);
      const client = createPhoneAuthClient({
        baseUrl: url,
        headers,
        tokens: { accessToken: creds.access_token, refreshToken: creds.refresh_token },
        onTokens: async (tokens) => {
          if (tokens) {
            await saveCredentials(url, {
              ...creds,
              access_token: tokens.accessToken,
              refresh_token: tokens.refreshToken,
              saved_at: new Date().toISOString(),
            });
          } else {
            await removeCredentials(url);
          }
        },
      });
      return { client, creds };
    },
    admin() {
      if (!opts.adminToken) throw new UsageError('admin commands need --admin-token or PHONE_AUTH_ADMIN_TOKEN');
      return createPhoneAuthClient({ baseUrl: url, headers, adminToken: opts.adminToken });
    },
  };
}

/** Parses a positive whole number option (commander argParser). */
export function positiveInt(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^[0-9]+$/.test(value) || n < 1 || n > max) {
      throw new InvalidArgumentError(`expected a whole number from 1 to ${max}.`);
    }
    return n;
  };
}

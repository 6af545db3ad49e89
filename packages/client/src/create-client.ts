import {
  contract,
  type AdminAuditEvent,
  type AdminAuditPage,
  type AdminBlockResponse,
  type AdminRevokeSessionsResponse,
  type AdminStats,
  type AdminUnblockResponse,
  type AdminUser,
  type AdminUserDetail,
  type AdminUsersPage,
  type ActivateInviteResponse,
  type AuditEventType,
  type InvitedUser,
  type InvitedUsersPage,
  type Jwks,
  type Profile,
  type RequestCodeResponse,
  type RouteMetadata,
  type TokenResponse,
} from '@phone-auth/contract';
import { initClient, type ApiFetcher, type ApiFetcherArgs } from '@ts-rest/core';
import { errorFromResponse, PhoneAuthError } from './errors.js';

/** What the client keeps between calls; persist it with `onTokens` to stay logged in. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

export interface PhoneAuthClientOptions {
  /** e.g. `https://auth.example.com` (no trailing slash needed). */
  baseUrl: string;
  /** A fetch implementation; the global `fetch` by default. */
  fetch?: typeof fetch;
  /** Tokens from an earlier session (e.g. read from disk). */
  tokens?: Tokens | null;
  /**
   * Called whenever the tokens change: after `verifyCode`, every refresh (explicit or
   * transparent), and with `null` after `logout` or when the session turned out to be over.
   */
  onTokens?: (tokens: Tokens | null) => void | Promise<void>;
  /** ADMIN_API_TOKEN, for `client.admin.*`. */
  adminToken?: string;
  /** Extra headers sent with every request (e.g. `user-agent`). */
  headers?: Record<string, string>;
}

/** Builds the plain ts-rest client of the whole contract (no token handling, no throwing). */
export function createRawClient(opts: { baseUrl: string; fetch?: typeof fetch; headers?: Record<string, string> }) {
  return initClient(contract, {
    baseUrl: opts.baseUrl.replace(/\/+$/, ''),
    baseHeaders: opts.headers ?? {},
    api: fetcher(opts.fetch ?? globalThis.fetch, () => ({})),
  });
}
export type RawClient = ReturnType<typeof createRawClient>;

/** The ts-rest fetcher with an injectable fetch, a header hook and network errors as PhoneAuthError. */
function fetcher(fetchImpl: typeof fetch, extraHeaders: (args: ApiFetcherArgs) => Record<string, string>): ApiFetcher {
  return async (args) => {
    let res: Response;
    try {
      res = await fetchImpl(args.path, {
        ...(args.fetchOptions as RequestInit | undefined),
        method: args.method,
        headers: { ...args.headers, ...extraHeaders(args) },
        body: args.body ?? undefined,
      });
    } catch (err) {
      const reason = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw new PhoneAuthError('NETWORK_ERROR', `Could not reach the Phone Auth API at ${args.path}: ${reason}`, {
        status: 0,
        cause: err,
      });
    }
    const type = res.headers.get('content-type') ?? '';
    const text = await res.text();
    let body: unknown = text;
    if (type.includes('json') && text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    } else if (!text) {
      body = undefined;
    }
    return { status: res.status, body, headers: res.headers };
  };
}

type Result = { status: number; body: unknown; headers: Headers };
type OkBody<R> = R extends { status: 200 | 201 | 204; body: infer B } ? B : never;

/** Returns the body of a 2xx answer, throws PhoneAuthError for anything else. */
async function ok<R extends Result>(call: Promise<R>): Promise<OkBody<R>> {
  const res = await call;
  if (res.status >= 200 && res.status < 300) return res.body as OkBody<R>;
  throw errorFromResponse(res.status, res.body, res.headers);
}

/** Admin paths carry a phone number; `+` must travel as `%2B`. */
const phoneParam = (phone: string) => ({ phone: encodeURIComponent(phone.trim()) });

export interface ListOptions {
  /** Items fetched per request (1–1000). */
  pageSize?: number;
}

/**
 * The typed SDK. Every method resolves to the contract's response type or throws a
 * `PhoneAuthError` whose `code` is one of the contract's error codes (or NETWORK_ERROR /
 * UNEXPECTED_RESPONSE). An access token that has expired is refreshed once, transparently, and
 * the call retried.
 */
export function createPhoneAuthClient(options: PhoneAuthClientOptions) {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  let tokens: Tokens | null = options.tokens ?? null;
  let refreshing: Promise<void> | null = null;

  async function setTokens(next: Tokens | null): Promise<void> {
    tokens = next;
    await options.onTokens?.(next);
  }
  async function store(res: TokenResponse): Promise<void> {
    await setTokens({ accessToken: res.access_token, refreshToken: res.refresh_token });
  }

  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const raw = createRawClient({ baseUrl, fetch: fetchImpl, headers: options.headers });

  async function refreshNow(): Promise<TokenResponse> {
    const current = tokens;
    if (!current) {
      throw new PhoneAuthError('REFRESH_TOKEN_INVALID', 'There is no refresh token; log in first.', { status: 401 });
    }
    try {
      const res = await ok(raw.auth.refresh({ body: { refresh_token: current.refreshToken } }));
      await store(res);
      return res;
    } catch (err) {
      // The session is over for good (spent, reused, expired or blocked): forget it.
      if (err instanceof PhoneAuthError && err.status >= 400 && err.status < 500 && err.status !== 429) {
        if (tokens === current) await setTokens(null);
      }
      throw err;
    }
  }

  // Concurrent calls that all find the access token expired share one refresh.
  function refreshOnce(): Promise<void> {
    refreshing ??= refreshNow()
      .then(() => undefined)
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  }

  const authed = fetcher(fetchImpl, (args): Record<string, string> => {
    const auth = (args.route.metadata as RouteMetadata | undefined)?.auth;
    if (auth === 'user' && tokens) return { authorization: `Bearer ${tokens.accessToken}` };
    if (auth === 'admin' && options.adminToken) return { authorization: `Bearer ${options.adminToken}` };
    return {};
  });

  // User routes: on 401 UNAUTHORIZED (expired or otherwise unusable access token) with a refresh
  // token at hand, refresh once and retry. SESSION_REVOKED is final: the refresh token died with it.
  const api: ApiFetcher = async (args) => {
    const sentWith = tokens?.accessToken;
    const res = await authed(args);
    const auth = (args.route.metadata as RouteMetadata | undefined)?.auth;
    if (auth !== 'user' || res.status !== 401 || !tokens) return res;
    const err = errorFromResponse(res.status, res.body, res.headers);
    if (err.code !== 'UNAUTHORIZED') return res;
    // Another call may have refreshed already while this one was in flight.
    if (tokens.accessToken === sentWith) await refreshOnce();
    return authed(args);
  };

  const client = initClient(contract, { baseUrl, baseHeaders: options.headers ?? {}, api });

  async function* pages<T>(fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; next_cursor: string | null }>) {
    let cursor: string | undefined;
    do {
      const page = await fetchPage(cursor);
      for (const item of page.items) yield item;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  const invitedUsersPage = (query: { limit?: number; cursor?: string } = {}): Promise<InvitedUsersPage> =>
    ok(client.profile.invitedUsers({ query: { limit: query.limit ?? 100, cursor: query.cursor } }));
  const listUsers = (query: { limit?: number; cursor?: string; phonePrefix?: string } = {}): Promise<AdminUsersPage> =>
    ok(client.admin.listUsers({ query: { limit: query.limit ?? 50, cursor: query.cursor, phone_prefix: query.phonePrefix } }));
  const audit = (query: { limit?: number; cursor?: string; phone?: string; type?: AuditEventType } = {}): Promise<AdminAuditPage> =>
    ok(client.admin.audit({ query: { limit: query.limit ?? 50, cursor: query.cursor, phone: query.phone, type: query.type } }));

  return {
    /** The ts-rest client of the whole contract, with token handling but without throwing. */
    raw: client,
    /** The tokens currently held (null when logged out). */
    getTokens: (): Tokens | null => tokens,
    setTokens,

    /** POST /auth/ — sends a one-time code to the phone. */
    requestCode: (phoneNumber: string): Promise<RequestCodeResponse> =>
      ok(client.auth.requestCode({ body: { phone_number: phoneNumber } })),

    /** PUT /auth/ — exchanges the code for tokens, and keeps them. */
    async verifyCode(phoneNumber: string, otpCode: string): Promise<TokenResponse> {
      const res = await ok(client.auth.verifyCode({ body: { phone_number: phoneNumber, otp_code: otpCode } }));
      await store(res);
      return res;
    },

    /** POST /auth/refresh — rotates the refresh token held by the client. */
    refresh: (): Promise<TokenResponse> => refreshNow(),

    /** POST /auth/logout — ends this session (or every session with `all`), then forgets the tokens. */
    async logout(opts: { all?: boolean } = {}): Promise<void> {
      await ok(client.auth.logout({ body: opts.all ? { all: true } : {} }));
      await setTokens(null);
    },

    /** GET /.well-known/jwks.json */
    jwks: (): Promise<Jwks> => ok(client.auth.jwks()),

    /** GET /profile/ */
    getProfile: (): Promise<Profile> => ok(client.profile.getProfile()),

    /** POST /profile/ — activates another user's invite code (once per user, ever). */
    activateInviteCode: (code: string): Promise<ActivateInviteResponse> =>
      ok(client.profile.activateInvite({ body: { other_profile_invite_code: code } })),

    /** One page of GET /profile/invited-users. */
    invitedUsersPage,

    /** Every user who activated the caller's code, oldest first, fetching pages as needed. */
    invitedUsers(opts: ListOptions = {}): AsyncIterableIterator<InvitedUser> {
      const limit = opts.pageSize ?? 100;
      return pages((cursor) => invitedUsersPage({ limit, cursor }));
    },

    /** The admin API; needs `adminToken`. */
    admin: {
      listUsers,
      /** Every user, newest first, fetching pages as needed. */
      users(opts: ListOptions & { phonePrefix?: string } = {}): AsyncIterableIterator<AdminUser> {
        const limit = opts.pageSize ?? 100;
        return pages((cursor) => listUsers({ limit, cursor, phonePrefix: opts.phonePrefix }));
      },
      getUser: (phone: string): Promise<AdminUserDetail> => ok(client.admin.getUser({ params: phoneParam(phone) })),
      blockUser: (phone: string): Promise<AdminBlockResponse> =>
        ok(client.admin.blockUser({ params: phoneParam(phone) })),
      unblockUser: (phone: string): Promise<AdminUnblockResponse> =>
        ok(client.admin.unblockUser({ params: phoneParam(phone) })),
      revokeSessions: (phone: string): Promise<AdminRevokeSessionsResponse> =>
        ok(client.admin.revokeSessions({ params: phoneParam(phone) })),
      stats: (): Promise<AdminStats> => ok(client.admin.stats()),
      audit,
      /** Every audit event matching the filters, newest first, fetching pages as needed. */
      auditEvents(
        opts: ListOptions & { phone?: string; type?: AuditEventType } = {},
      ): AsyncIterableIterator<AdminAuditEvent> {
        const limit = opts.pageSize ?? 100;
        return pages((cursor) => audit({ limit, cursor, phone: opts.phone, type: opts.type }));
      },
    },
  };
}

export type PhoneAuthClient = ReturnType<typeof createPhoneAuthClient>;

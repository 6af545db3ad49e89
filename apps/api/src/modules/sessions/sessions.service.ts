import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { TokenResponse } from '@phone-auth/contract';
import type { Database } from '../../db/types.js';
import type { Clock } from '../../lib/clock.js';
import { isDependencyDown } from '../../lib/dependency-errors.js';
import { AppError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { createNoopMetrics, type DomainMetrics } from '../../lib/metrics.js';
import { maskPhone } from '../../lib/phone.js';
import { generateRefreshToken, sha256 } from '../../lib/secrets.js';
import type { AuditLog } from '../audit/audit.js';
import type { IpLimiter } from '../limits/ip-limits.js';
import type { OtpService, RequestContext } from '../otp/otp.service.js';
import type { AccessClaims, TokenService } from '../tokens/token.service.js';
import type { DenylistStore } from './denylist.store.js';
import { listRevokedSince, openLoginSessionWithFreshCode, revokeSessions, rotateRefreshToken } from './sessions.repository.js';

export interface SessionService {
  /** PUT /auth/: verify the code, create the user on first login, open a session. */
  login(rawPhone: string, code: string, ctx: RequestContext): Promise<TokenResponse>;
  /** POST /auth/refresh: rotate the refresh token (reuse ends the session). */
  refresh(refreshToken: string, ctx: RequestContext): Promise<TokenResponse>;
  /** POST /auth/logout */
  logout(claims: AccessClaims, all: boolean, ctx: RequestContext): Promise<void>;
  /** Refuses tokens of ended sessions: one denylist lookup per request. */
  assertActive(claims: AccessClaims): Promise<void>;
  /** Ends every session of a user (logout all, blocking). */
  revokeAllForUser(userId: string, reason: string): Promise<number>;
  /**
   * Puts every session revoked within an access token's lifetime back on the denylist, from the
   * sessions table (the record every revocation writes first). For a denylist that was lost: the
   * in-process one with its process, Redis's with a restart that kept nothing on disk. Run on
   * start and after every Redis reconnect (deps.ts); returns how many sessions it denylisted.
   */
  restoreDenylist(): Promise<number>;
}

/** Session ids per denylist write when restoring. */
const RESTORE_BATCH = 1000;

export function createSessionService(deps: {
  db: Kysely<Database>;
  otp: OtpService;
  tokens: TokenService;
  denylist: DenylistStore;
  ipLimits: IpLimiter;
  audit: AuditLog;
  clock: Clock;
  log: Logger;
  config: { refreshTtlSeconds: number };
  metrics?: Pick<DomainMetrics, 'logins' | 'refreshReuse'>;
}): SessionService {
  const { db, otp, tokens, denylist, audit, clock, log, config } = deps;
  const metrics = deps.metrics ?? createNoopMetrics();
  // A revoked session stays on the denylist for as long as any of its access tokens can live.
  const denyTtlMs = () => (tokens.accessTtlSeconds + 60) * 1000;
  /** Revokes and denylists; returns how many sessions this call revoked. */
  async function revokeAndDeny(where: Parameters<typeof revokeSessions>[1], reason: string, now: Date, alsoDeny?: string): Promise<number> {
    const { revoked, deny } = await revokeSessions(db, where, reason, now, new Date(now.getTime() - denyTtlMs()));
    await denylist.add([...new Set(alsoDeny ? [alsoDeny, ...deny] : deny)], denyTtlMs(), clock.now());
    return revoked.length;
  }

  async function pair(userId: string, sessionId: string, phone: string, refreshToken: string, created: boolean): Promise<TokenResponse> {
    return {
      access_token: await tokens.issueAccessToken({ userId, sessionId, phone }),
      token_type: 'Bearer',
      expires_in: tokens.accessTtlSeconds,
      refresh_token: refreshToken,
      refresh_expires_in: config.refreshTtlSeconds,
      user_created: created,
    };
  }

  /** Finds or creates the user and opens the session; a blocked user is refused. */
  async function openSession(phone: string, s: Omit<Parameters<typeof openLoginSessionWithFreshCode>[1], 'phone'>) {
    const outcome = await openLoginSessionWithFreshCode(db, { ...s, phone });
    if (outcome.kind === 'blocked') throw new AppError('USER_BLOCKED');
    return outcome;
  }

  return {
    async login(rawPhone, code, ctx) {
      // otp_verified is written below, in the login's own statement (one commit per login).
      const phone = await otp.verifyCode(rawPhone, code, ctx);
      const now = new Date(clock.now());
      const sessionId = randomUUID();
      const refreshToken = generateRefreshToken();
      let opened: { userId: string; created: boolean };
      try {
        opened = await openSession(phone, {
          sessionId,
          now,
          expiresAt: new Date(now.getTime() + config.refreshTtlSeconds * 1000),
          refreshHash: sha256(refreshToken),
          ip: ctx.ip,
          userAgent: ctx.userAgent?.slice(0, 512) ?? null,
        });
      } catch (err) {
        // The code is spent, but the database went away before a session came of it (503): the
        // user may ask for a new code at once rather than wait out the resend cooldown. Anything
        // else keeps it — a refusal (a blocked user) is the answer to this code, and a bug (500)
        // would fail the next login too. The daily cap still bounds the codes sent.
        if (isDependencyDown(err)) await otp.loginFailedAfterVerify(phone, now.getTime());
        throw err;
      }
      const { userId, created } = opened;
      log.info({ phone: maskPhone(phone), userId, sessionId, created }, 'login');
      metrics.logins.inc({ user_created: String(created) });
      return pair(userId, sessionId, phone, refreshToken, created);
    },

    async refresh(refreshToken, ctx) {
      await deps.ipLimits.check('refresh', ctx.ip);
      const now = new Date(clock.now());
      const next = generateRefreshToken();
      // token_refreshed is written by the rotation's own statement (one commit per refresh).
      const outcome = await rotateRefreshToken(db, {
        oldHash: sha256(refreshToken),
        newHash: sha256(next),
        now,
        expiresAt: new Date(now.getTime() + config.refreshTtlSeconds * 1000),
        ip: ctx.ip,
      });
      if (outcome.kind === 'invalid') throw new AppError('REFRESH_TOKEN_INVALID');
      if (outcome.kind === 'reused') {
        // A spent token came back: someone holds a copy. End the whole session at once.
        await revokeAndDeny({ sessionId: outcome.sessionId }, 'refresh_reused', now, outcome.sessionId);
        log.warn({ userId: outcome.userId, sessionId: outcome.sessionId }, 'refresh token reused; session revoked');
        metrics.refreshReuse.inc();
        await audit.record({ type: 'refresh_reused', userId: outcome.userId, ip: ctx.ip, details: { session_id: outcome.sessionId } });
        throw new AppError('REFRESH_TOKEN_REUSED');
      }
      if (outcome.kind === 'blocked') throw new AppError('USER_BLOCKED');
      return pair(outcome.userId, outcome.sessionId, outcome.phone, next, false);
    },

    async logout(claims, all, ctx) {
      const now = new Date(clock.now());
      const revoked = await revokeAndDeny(all ? { userId: claims.sub } : { sessionId: claims.sid }, 'logout', now, claims.sid);
      await audit.record({ type: 'logout', userId: claims.sub, phone: claims.phone_number, ip: ctx.ip, details: { all, sessions: revoked } });
    },

    async assertActive(claims) {
      if (await denylist.has(claims.sid, clock.now())) throw new AppError('SESSION_REVOKED');
    },

    async revokeAllForUser(userId, reason) {
      return revokeAndDeny({ userId }, reason, new Date(clock.now()));
    },

    async restoreDenylist() {
      const now = clock.now();
      const ids = await listRevokedSince(db, new Date(now - denyTtlMs()));
      // The full TTL for each: a revoked session never comes back, so denying one a little longer
      // than its last token lives costs nothing.
      for (let i = 0; i < ids.length; i += RESTORE_BATCH) await denylist.add(ids.slice(i, i + RESTORE_BATCH), denyTtlMs(), now);
      return ids.length;
    },
  };
}

import type { ActivateInviteResponse } from '@phone-auth/contract';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.js';
import type { Clock } from '../../lib/clock.js';
import { AppError } from '../../lib/errors.js';
import { createKeyedGate, GateFullError } from '../../lib/keyed-gate.js';
import { createNoopMetrics, type DomainMetrics } from '../../lib/metrics.js';
import { consumeOrThrow, type LimitsStore } from '../limits/limits.store.js';
import type { RequestContext } from '../otp/otp.service.js';
import { activateInvite } from './invites.repository.js';

/** Activations of one invite code in Postgres at once, per process (see createInviteService). */
export const ACTIVATIONS_IN_FLIGHT_PER_CODE = 2;
/** Activations of one code waiting in line, per process; beyond it: 503 with Retry-After. */
export const ACTIVATIONS_WAITING_PER_CODE = 1000;

const BUSY_MESSAGE = {
  contended: 'The invite tree changed while this activation waited; try again.',
  queue_full: 'Too many activations of this code at once; try again.',
} as const;

export const ACTIVATED_MESSAGE = "The other user's invite code was successfully activated in the user's profile.";

export interface InviteService {
  activate(userId: string, code: string, ctx: RequestContext): Promise<ActivateInviteResponse>;
}

export function createInviteService(deps: {
  db: Kysely<Database>;
  limits: LimitsStore;
  clock: Clock;
  config: { maxFailures: number; failureWindowSeconds: number };
  metrics?: Pick<DomainMetrics, 'inviteActivations'>;
}): InviteService {
  const { db, limits, clock, config } = deps;
  const metrics = deps.metrics ?? createNoopMetrics();
  // Activations of one code all update its owner's row (invited_count), so Postgres runs them one
  // at a time, and each one waiting for that row lock holds a pool connection. A code shared
  // widely enough could take every connection and stall all other requests. Here, at most two
  // activations of one code are in Postgres per process (one running, the next already waiting on
  // the row); the rest wait in line holding nothing, and everything else keeps its connections.
  const perCode = createKeyedGate(ACTIVATIONS_IN_FLIGHT_PER_CODE, ACTIVATIONS_WAITING_PER_CODE);
  return {
    async activate(userId, code, ctx) {
      // Reserve one failed attempt before looking the code up, so that concurrent guesses can
      // never exceed the budget; a successful (or already-done) activation gives it back.
      const key = `invite-fail:${userId}`;
      await consumeOrThrow(limits, key, {
        limit: config.maxFailures,
        windowMs: config.failureWindowSeconds * 1000,
        now: clock.now(),
        message: 'Too many failed invite code activations; try again later.',
      });
      // The audit event (`invite_activated`, or `invite_failed` with the outcome) is written by
      // the activation's own statement, in its transaction.
      const outcome = await perCode
        .run(code, () => activateInvite(db, { userId, code, now: new Date(clock.now()), ip: ctx.ip }))
        .catch(async (err: unknown) => {
          if (err instanceof GateFullError) return { kind: 'queue_full' } as const;
          // No answer about the code (Postgres down: 503): not a failed guess, so the reserved
          // unit goes back — else an outage would use up the user's budget. Best effort: if
          // Redis is what failed, the refund fails too, and the original error is what counts.
          await limits.refund(key).catch(() => undefined);
          throw err;
        });
      switch (outcome.kind) {
        case 'activated':
          metrics.inviteActivations.inc();
          await limits.refund(key);
          return { message: ACTIVATED_MESSAGE, other_profile_invite_code: outcome.code };
        case 'already_activated':
          await limits.refund(key);
          throw new AppError('INVITE_CODE_ALREADY_ACTIVATED');
        case 'not_found':
          throw new AppError('INVITE_CODE_NOT_FOUND');
        case 'own':
          throw new AppError('INVITE_CODE_OWN');
        case 'cycle':
          throw new AppError('INVITE_CODE_CYCLE');
        case 'contended':
        case 'queue_full':
          // Not a failed guess: give the unit back. Nothing was written (no audit row either).
          await limits.refund(key);
          throw new AppError('SERVICE_UNAVAILABLE', BUSY_MESSAGE[outcome.kind], { retryAfterSeconds: 1 });
      }
    },
  };
}

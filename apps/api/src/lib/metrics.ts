import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of one app instance. Each instance has its own registry (never prom-client's
 * global default), so several apps in one process — parallel tests — do not share or collide.
 *
 * Services receive this object from the composition root (deps.ts) and count what they do; the
 * HTTP layer observes request durations; `GET /metrics` renders the registry.
 */
export function createMetrics(opts: { prefix?: string; defaultMetrics?: boolean } = {}) {
  const prefix = opts.prefix ?? 'phone_auth_';
  const registry = new Registry();
  if (opts.defaultMetrics !== false) {
    // CPU, memory, event-loop lag, GC, handles… (prom-client's process metrics).
    collectDefaultMetrics({ register: registry });
  }
  const metrics = {
    registry,
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method, route template and status code',
      // `route` is the route template (`/profile/invited-users`), never the raw URL, so the
      // label set stays bounded whatever clients send; unmatched requests share one label.
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    otpSent: new Counter({
      name: `${prefix}otp_sent_total`,
      help: 'One-time codes accepted by the SMS provider (fixed codes of OTP_TEST_NUMBERS are not counted)',
      registers: [registry],
    }),
    otpVerified: new Counter({
      name: `${prefix}otp_verified_total`,
      help: 'One-time codes verified successfully',
      registers: [registry],
    }),
    otpFailed: new Counter({
      name: `${prefix}otp_failed_total`,
      help: 'Failed code verifications, by error code (OTP_INVALID, OTP_TOO_MANY_ATTEMPTS, RATE_LIMITED…)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    smsFailures: new Counter({
      name: `${prefix}sms_failures_total`,
      help: 'Codes the SMS provider failed to accept (error or timeout), by provider',
      labelNames: ['provider'] as const,
      registers: [registry],
    }),
    logins: new Counter({
      name: `${prefix}logins_total`,
      help: 'Successful logins (token pairs issued for a verified code), by whether the user was created',
      labelNames: ['user_created'] as const,
      registers: [registry],
    }),
    refreshReuse: new Counter({
      name: `${prefix}refresh_token_reuse_total`,
      help: 'Spent refresh tokens presented again (each one revoked a session)',
      registers: [registry],
    }),
    inviteActivations: new Counter({
      name: `${prefix}invite_activations_total`,
      help: 'Invite codes activated successfully',
      registers: [registry],
    }),
  };
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The counters a service may touch; services take `Pick<DomainMetrics, …>`. */
export type DomainMetrics = Omit<Metrics, 'registry' | 'httpRequestDuration'>;

/**
 * Counters that count nothing: the default when a service is built without metrics (unit tests,
 * scripts). The app itself always injects real ones from deps.ts.
 */
export function createNoopMetrics(): DomainMetrics {
  const { registry: _r, httpRequestDuration: _h, ...counters } = createMetrics({ defaultMetrics: false });
  return counters;
}

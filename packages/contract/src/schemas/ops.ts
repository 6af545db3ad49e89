import { z } from 'zod';
import { ErrorBody } from '../errors.js';

/** One dependency as seen by the readiness probe. */
export const DependencyCheck = z.object({
  /** `disabled`: not configured (the embedded/in-process backend is used instead). */
  status: z.enum(['up', 'down', 'disabled']),
  /** How long the ping took (or until it was given up), in milliseconds; null when disabled. */
  latency_ms: z.number().int().nonnegative().nullable(),
});
export type DependencyCheck = z.infer<typeof DependencyCheck>;

export const DependencyChecks = z.object({
  database: DependencyCheck,
  redis: DependencyCheck,
});
export type DependencyChecks = z.infer<typeof DependencyChecks>;

export const LivenessResponse = z.object({
  status: z.literal('ok'),
  uptime_seconds: z.number().nonnegative(),
});
export type LivenessResponse = z.infer<typeof LivenessResponse>;

export const ReadinessResponse = z.object({
  status: z.literal('ok'),
  checks: DependencyChecks,
});
export type ReadinessResponse = z.infer<typeof ReadinessResponse>;

/** 503 from the readiness probe: the usual error body plus the state of each dependency. */
export const NotReadyBody = z.object({
  error: ErrorBody.shape.error.extend({ checks: DependencyChecks.optional() }),
});
export type NotReadyBody = z.infer<typeof NotReadyBody>;

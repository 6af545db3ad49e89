import { initContract } from '@ts-rest/core';
import { commonResponses, publicRoute } from './common-responses.js';
import { LivenessResponse, NotReadyBody, ReadinessResponse } from './schemas/ops.js';

const c = initContract();

/** Probes for orchestrators and load balancers. (`/metrics`, `/openapi.json` and `/docs` are not JSON API routes.) */
export const opsContract = c.router(
  {
    live: {
      method: 'GET',
      path: '/health/live',
      summary: 'Liveness: the process is up and serving HTTP',
      description: 'Answers 200 as long as the event loop runs; checks no dependency.',
      responses: { 200: LivenessResponse },
      metadata: publicRoute,
    },
    ready: {
      method: 'GET',
      path: '/health/ready',
      summary: 'Readiness: Postgres and Redis answer',
      description:
        'Pings the database and Redis with short timeouts. 503 SERVICE_UNAVAILABLE names the dependency that is down (and is also the answer while the process shuts down).',
      responses: { 200: ReadinessResponse, 503: NotReadyBody },
      metadata: publicRoute,
    },
  },
  { strictStatusCodes: true, commonResponses },
);

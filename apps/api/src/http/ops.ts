import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../deps.js';
import { AppError } from '../lib/errors.js';
import { constantTimeEqual } from '../lib/secrets.js';
import { bearerToken } from './auth-hook.js';
import { buildOpenApiDocument } from './openapi.js';

/**
 * Operational endpoints that are not JSON API routes: `GET /metrics` (Prometheus),
 * `GET /openapi.json` and `GET /docs` (Swagger UI). The health probes are contract routes
 * (router.ts). Also: the request-duration histogram, and readiness turning 503 once the server
 * starts closing. Register before the API routes so the hooks cover every route.
 */
export async function registerOps(app: FastifyInstance, deps: Pick<Deps, 'config' | 'metrics' | 'services'>): Promise<void> {
  const { config, metrics } = deps;

  // Readiness fails as soon as close() begins, so load balancers stop sending new traffic while
  // in-flight requests finish.
  // Probes and scrapes arrive every few seconds: keep them out of the info-level request log
  // (failures still show up, at warn and above). onRoute also sees the contract's routes, which
  // are registered after this.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/health/') || route.url === '/metrics') route.logLevel = 'warn';
  });

  // Responses finished while closing also say `Connection: close`, so keep-alive clients
  // reconnect elsewhere instead of reusing a connection that is about to go away.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    deps.services.health.markShuttingDown();
  });
  // (Callback-style hooks: no promise per request.)
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });

  if (config.ops.metricsEnabled) {
    app.addHook('onResponse', (request, reply, done) => {
      metrics.httpRequestDuration.observe(
        {
          method: request.method,
          // The route template, never the raw URL (bounded label values); 404s share one label.
          route: request.routeOptions.url ?? 'unmatched',
          status_code: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
      done();
    });
    const token = config.ops.metricsToken;
    app.get('/metrics', async (request, reply) => {
      if (token !== undefined) {
        const given = bearerToken(request);
        if (!given || !constantTimeEqual(given, token)) {
          reply.header('www-authenticate', 'Bearer realm="metrics"');
          throw new AppError('UNAUTHORIZED', 'A valid metrics token is required.');
        }
      }
      reply.header('content-type', metrics.registry.contentType);
      reply.header('cache-control', 'no-store');
      return metrics.registry.metrics();
    });
  }

  if (config.ops.docsEnabled) {
    let document: ReturnType<typeof buildOpenApiDocument>;
    try {
      document = buildOpenApiDocument();
    } catch (err) {
      // A schema the generator cannot express must not keep the API from starting; the
      // OpenAPI test fails on it instead.
      app.log.error({ err }, 'could not generate the OpenAPI document; /openapi.json and /docs are off');
      return;
    }
    app.get('/openapi.json', async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return document;
    });
    // @fastify/swagger in static mode only holds the generated document for the UI plugin.
    await app.register(fastifySwagger, {
      mode: 'static',
      specification: { document: document as never },
    });
    await app.register(fastifySwaggerUi, {
      routePrefix: '/docs',
      // The UI loads the same document from /docs/json.
      uiConfig: { deepLinking: true },
    });
  }
}

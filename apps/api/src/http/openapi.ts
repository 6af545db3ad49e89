import { contract, type RouteMetadata } from '@phone-auth/contract';
import type { AppRoute, AppRouter } from '@ts-rest/core';
import { generateOpenApi } from '@ts-rest/open-api';

/** Security scheme names in the document; `metadata.auth` of each contract route picks one. */
export const SECURITY_SCHEMES = {
  user: 'accessToken',
  admin: 'adminToken',
  metrics: 'metricsToken',
} as const;

function isRoute(value: AppRoute | AppRouter): value is AppRoute {
  return typeof (value as AppRoute).method === 'string' && typeof (value as AppRoute).path === 'string';
}

/** Every route of a (nested) ts-rest router with the top-level group it belongs to. */
export function contractRoutes(router: AppRouter = contract): { group: string; route: AppRoute }[] {
  const out: { group: string; route: AppRoute }[] = [];
  const walk = (node: AppRouter, group: string) => {
    for (const value of Object.values(node)) {
      if (isRoute(value)) out.push({ group, route: value });
      else walk(value, group);
    }
  };
  for (const [group, value] of Object.entries(router)) {
    if (isRoute(value)) out.push({ group, route: value });
    else walk(value, group);
  }
  return out;
}

/**
 * The schema generator (@anatine/zod-openapi) writes JSON-Schema-2020 numeric
 * `exclusiveMinimum`/`exclusiveMaximum` (z.number().positive() → `exclusiveMinimum: 0`), but the
 * document is OpenAPI 3.0, where they are booleans qualifying `minimum`/`maximum`. Rewrites them
 * in place so validators and code generators accept the document.
 */
function toOpenApi30Bounds(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) toOpenApi30Bounds(item);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const schema = node as Record<string, unknown>;
  for (const [bound, exclusive] of [
    ['minimum', 'exclusiveMinimum'],
    ['maximum', 'exclusiveMaximum'],
  ] as const) {
    const value = schema[exclusive];
    if (typeof value === 'number') {
      const current = schema[bound];
      // Keep the tighter bound; the exclusive flag then applies to it only if it came from here.
      if (typeof current !== 'number' || (bound === 'minimum' ? value >= current : value <= current)) {
        schema[bound] = value;
        schema[exclusive] = true;
      } else {
        delete schema[exclusive];
      }
    }
  }
  for (const value of Object.values(schema)) toOpenApi30Bounds(value);
}

const TAG_DESCRIPTIONS: Record<string, string> = {
  auth: 'Log in with a one-time code; refresh and end sessions; public keys',
  profile: "The caller's profile and invite codes",
  admin: 'Operator API (Bearer ADMIN_API_TOKEN); answers 404 when no admin token is configured',
  ops: 'Health probes',
};

/**
 * The OpenAPI 3 document of the whole API, generated from the ts-rest contract: every route
 * with its request and response schemas (error bodies included), the contract's top-level groups
 * as tags, and a bearer security requirement wherever `metadata.auth` asks for one. `/metrics`,
 * which is not a JSON route, is added by hand.
 */
export function buildOpenApiDocument(router: AppRouter = contract, version = '0.1.0') {
  const groupOf = new Map<AppRoute, string>(contractRoutes(router).map(({ group, route }) => [route, group]));
  const document = generateOpenApi(
    router,
    {
      info: {
        title: 'Phone Auth API',
        version,
        description:
          'Phone-number login by one-time SMS code. Every error is `{"error": {"code", "message", …}}`; ' +
          'the codes are the `ErrorCode` enum of `@phone-auth/contract`. Responses carry `x-request-id`.',
      },
      tags: [...new Set(groupOf.values())].map((name) => ({ name, description: TAG_DESCRIPTIONS[name] ?? name })),
      components: {
        securitySchemes: {
          [SECURITY_SCHEMES.user]: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'The access_token from PUT /auth/ or POST /auth/refresh.',
          },
          [SECURITY_SCHEMES.admin]: {
            type: 'http',
            scheme: 'bearer',
            description: 'The ADMIN_API_TOKEN the server is configured with.',
          },
          [SECURITY_SCHEMES.metrics]: {
            type: 'http',
            scheme: 'bearer',
            description: 'The METRICS_TOKEN the server is configured with, if any.',
          },
        },
      },
    },
    {
      setOperationId: 'concatenated-path',
      operationMapper: (operation, route) => {
        const auth = (route.metadata as RouteMetadata | undefined)?.auth ?? 'none';
        const group = groupOf.get(route);
        return {
          ...operation,
          ...(group ? { tags: [group] } : {}),
          // An empty list states explicitly that the route needs no credentials.
          security: auth === 'none' ? [] : [{ [SECURITY_SCHEMES[auth]]: [] }],
        };
      },
    },
  );
  toOpenApi30Bounds(document.paths);
  document.paths['/metrics'] = {
    get: {
      operationId: 'metrics',
      tags: ['ops'],
      summary: 'Prometheus metrics',
      description:
        'Prometheus text exposition: HTTP latency histogram by route and status, OTP, SMS, login, refresh-reuse and invite counters, process metrics. ' +
        'Open unless METRICS_TOKEN is set; then it needs that token as a Bearer credential.',
      // Either no credentials (METRICS_TOKEN unset) or the metrics token.
      security: [{}, { [SECURITY_SCHEMES.metrics]: [] }],
      responses: {
        200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
        401: { description: 'METRICS_TOKEN is set and the request did not present it' },
      },
    },
  };
  return document;
}

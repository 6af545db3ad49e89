import { ErrorBody } from './errors.js';

/** Responses any route can give: bad input, oversized or non-JSON bodies, and server-side trouble. */
export const commonResponses = {
  400: ErrorBody,
  413: ErrorBody,
  415: ErrorBody,
  500: ErrorBody,
  503: ErrorBody,
} as const;

/** Metadata read by the API's auth hook and by the OpenAPI generator. */
export type RouteAuth = 'none' | 'user' | 'admin';
export interface RouteMetadata {
  auth: RouteAuth;
}
export const publicRoute = { auth: 'none' } as const satisfies RouteMetadata;
export const userRoute = { auth: 'user' } as const satisfies RouteMetadata;
export const adminRoute = { auth: 'admin' } as const satisfies RouteMetadata;

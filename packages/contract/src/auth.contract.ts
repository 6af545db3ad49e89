import { initContract } from '@ts-rest/core';
import { commonResponses, publicRoute, userRoute } from './common-responses.js';
import { ErrorBody } from './errors.js';
import {
  Jwks,
  LogoutBody,
  RefreshBody,
  RequestCodeBody,
  RequestCodeResponse,
  TokenResponse,
  VerifyCodeBody,
} from './schemas/auth.js';

const c = initContract();

export const authContract = c.router(
  {
    requestCode: {
      method: 'POST',
      path: '/auth/',
      summary: 'Request a one-time code by SMS',
      description:
        'Sends a one-time code to the phone. A new request replaces the previous code. The answer is the same whether or not the phone is registered.',
      body: RequestCodeBody,
      responses: {
        200: RequestCodeResponse,
        422: ErrorBody,
        429: ErrorBody,
        502: ErrorBody,
      },
      metadata: publicRoute,
    },
    verifyCode: {
      method: 'PUT',
      path: '/auth/',
      summary: 'Exchange the code for an access and a refresh token',
      description: 'The first successful verification creates the user. A code works once.',
      body: VerifyCodeBody,
      responses: {
        200: TokenResponse,
        401: ErrorBody,
        403: ErrorBody,
        422: ErrorBody,
        429: ErrorBody,
      },
      metadata: publicRoute,
    },
    refresh: {
      method: 'POST',
      path: '/auth/refresh',
      summary: 'Rotate the refresh token',
      description:
        'Spends the refresh token and returns a new pair. Presenting a spent token again ends the whole session.',
      body: RefreshBody,
      responses: {
        200: TokenResponse,
        401: ErrorBody,
        403: ErrorBody,
        429: ErrorBody,
      },
      metadata: publicRoute,
    },
    logout: {
      method: 'POST',
      path: '/auth/logout',
      summary: "End the caller's session, or all of the user's sessions",
      body: LogoutBody,
      responses: {
        204: c.noBody(),
        401: ErrorBody,
      },
      metadata: userRoute,
    },
    jwks: {
      method: 'GET',
      path: '/.well-known/jwks.json',
      summary: 'Public keys that verify access tokens',
      responses: {
        200: Jwks,
      },
      metadata: publicRoute,
    },
  },
  { strictStatusCodes: true, commonResponses },
);


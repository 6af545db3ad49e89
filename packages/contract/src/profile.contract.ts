import { initContract } from '@ts-rest/core';
import { commonResponses, userRoute } from './common-responses.js';
import { ErrorBody } from './errors.js';
import {
  ActivateInviteBody,
  ActivateInviteResponse,
  InvitedUsersPage,
  InvitedUsersQuery,
  Profile,
} from './schemas/profile.js';

const c = initContract();

export const profileContract = c.router(
  {
    getProfile: {
      method: 'GET',
      path: '/profile/',
      summary: "The caller's profile",
      responses: {
        200: Profile,
        401: ErrorBody,
        403: ErrorBody,
      },
      metadata: userRoute,
    },
    invitedUsers: {
      method: 'GET',
      path: '/profile/invited-users',
      summary: "Users who activated the caller's invite code, oldest first (keyset pagination)",
      query: InvitedUsersQuery,
      responses: {
        200: InvitedUsersPage,
        401: ErrorBody,
        403: ErrorBody,
      },
      metadata: userRoute,
    },
    activateInvite: {
      method: 'POST',
      path: '/profile/',
      summary: "Activate another user's invite code (once per user)",
      body: ActivateInviteBody,
      responses: {
        200: ActivateInviteResponse,
        401: ErrorBody,
        403: ErrorBody,
        404: ErrorBody,
        409: ErrorBody,
        422: ErrorBody,
        429: ErrorBody,
      },
      metadata: userRoute,
    },
  },
  { strictStatusCodes: true, commonResponses },
);

import { z } from 'zod';

/**
 * Every error code the API can answer with. One enum: the API, the SDK, the CLI and the
 * OpenAPI document all derive from it.
 */
export const ErrorCode = z.enum([
  'VALIDATION_FAILED',
  'UNAUTHORIZED',
  'SESSION_REVOKED',
  'OTP_INVALID',
  'REFRESH_TOKEN_INVALID',
  'REFRESH_TOKEN_REUSED',
  'USER_BLOCKED',
  'NOT_FOUND',
  'INVITE_CODE_NOT_FOUND',
  'USER_NOT_FOUND',
  'INVITE_CODE_ALREADY_ACTIVATED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'PHONE_NUMBER_INVALID',
  'PHONE_COUNTRY_NOT_ALLOWED',
  'INVITE_CODE_OWN',
  'INVITE_CODE_CYCLE',
  'OTP_RESEND_TOO_SOON',
  'OTP_TOO_MANY_ATTEMPTS',
  'RATE_LIMITED',
  'INTERNAL',
  'SMS_DELIVERY_FAILED',
  'SERVICE_UNAVAILABLE',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/**
 * HTTP status of each error code. `satisfies Record<ErrorCode, …>` makes a new code fail to
 * compile until it is given a status here.
 */
export const errorStatus = {
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  SESSION_REVOKED: 401,
  OTP_INVALID: 401,
  REFRESH_TOKEN_INVALID: 401,
  REFRESH_TOKEN_REUSED: 401,
  USER_BLOCKED: 403,
  NOT_FOUND: 404,
  INVITE_CODE_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  INVITE_CODE_ALREADY_ACTIVATED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PHONE_NUMBER_INVALID: 422,
  PHONE_COUNTRY_NOT_ALLOWED: 422,
  INVITE_CODE_OWN: 422,
  INVITE_CODE_CYCLE: 422,
  OTP_RESEND_TOO_SOON: 429,
  OTP_TOO_MANY_ATTEMPTS: 429,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SMS_DELIVERY_FAILED: 502,
  SERVICE_UNAVAILABLE: 503,
} as const satisfies Record<ErrorCode, number>;

/** Default human sentence for each code; the API may say something more specific. */
export const errorMessage = {
  VALIDATION_FAILED: 'The request is not valid.',
  UNAUTHORIZED: 'A valid access token is required.',
  SESSION_REVOKED: 'This session has ended; log in again.',
  OTP_INVALID: 'The code is wrong, expired or was never requested.',
  REFRESH_TOKEN_INVALID: 'The refresh token is unknown or expired.',
  REFRESH_TOKEN_REUSED: 'The refresh token was already used; the session has been ended.',
  USER_BLOCKED: 'This account is blocked.',
  NOT_FOUND: 'No such route.',
  INVITE_CODE_NOT_FOUND: 'No user has this invite code.',
  USER_NOT_FOUND: 'No user has this phone number.',
  INVITE_CODE_ALREADY_ACTIVATED: 'An invite code has already been activated for this profile.',
  PAYLOAD_TOO_LARGE: 'The request body is too large.',
  UNSUPPORTED_MEDIA_TYPE: 'The request body must be application/json.',
  PHONE_NUMBER_INVALID: 'The phone number is not a valid mobile or fixed-line number.',
  PHONE_COUNTRY_NOT_ALLOWED: 'Codes are not sent to numbers of this country.',
  INVITE_CODE_OWN: 'You cannot activate your own invite code.',
  INVITE_CODE_CYCLE: 'The owner of this code was invited by you; invitations cannot form a cycle.',
  OTP_RESEND_TOO_SOON: 'A code was sent recently; wait before requesting another.',
  OTP_TOO_MANY_ATTEMPTS: 'Too many wrong attempts; the code is no longer valid, request a new one.',
  RATE_LIMITED: 'Too many requests; try again later.',
  INTERNAL: 'Something went wrong on our side.',
  SMS_DELIVERY_FAILED: 'The code could not be delivered; try again.',
  SERVICE_UNAVAILABLE: 'The service is temporarily unavailable; try again shortly.',
} as const satisfies Record<ErrorCode, string>;

export const FieldError = z.object({
  path: z.string(),
  message: z.string(),
});
export type FieldError = z.infer<typeof FieldError>;

/** `{"error": {"code", "message", …details}}` — the body of every error response. */
export const ErrorBody = z.object({
  error: z
    .object({
      code: ErrorCode,
      message: z.string(),
      fields: z.array(FieldError).optional(),
      retry_after: z.number().int().nonnegative().optional(),
      request_id: z.string().optional(),
    })
    .passthrough(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

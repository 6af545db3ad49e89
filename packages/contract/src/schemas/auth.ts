import { z } from 'zod';
import { PhoneNumberInput } from './common.js';

export const RequestCodeBody = z.object({ phone_number: PhoneNumberInput });
export type RequestCodeBody = z.infer<typeof RequestCodeBody>;

export const RequestCodeResponse = z.object({
  /** Present only when codes are exposed (the `console` SMS provider, or OTP_EXPOSE_IN_RESPONSE). */
  otp_code: z.string().optional(),
  /** Seconds until the code expires. */
  expires_in: z.number().int().positive(),
  /** Seconds until another code may be requested for this phone. */
  retry_after: z.number().int().nonnegative(),
});
export type RequestCodeResponse = z.infer<typeof RequestCodeResponse>;

export const VerifyCodeBody = z.object({
  phone_number: PhoneNumberInput,
  otp_code: z
    .string({ required_error: 'is required', invalid_type_error: 'must be a string' })
    .trim()
    .regex(/^[0-9]{1,10}$/, 'must be a string of up to 10 digits'),
});
export type VerifyCodeBody = z.infer<typeof VerifyCodeBody>;

export const TokenResponse = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  /** Seconds until the access token expires. */
  expires_in: z.number().int().positive(),
  refresh_token: z.string(),
  /** Seconds until the refresh token expires. */
  refresh_expires_in: z.number().int().positive(),
  /** True when this verification created the user. */
  user_created: z.boolean(),
});
export type TokenResponse = z.infer<typeof TokenResponse>;

export const RefreshBody = z.object({
  refresh_token: z
    .string({ required_error: 'is required', invalid_type_error: 'must be a string' })
    .min(1)
    .max(512),
});
export type RefreshBody = z.infer<typeof RefreshBody>;

export const LogoutBody = z
  .object({
    /** End every session of the user, not only the caller's. */
    all: z.boolean().optional(),
  })
  .strict()
  .nullish();
export type LogoutBody = z.infer<typeof LogoutBody>;

/** A JSON Web Key Set of public keys (RFC 7517). */
export const Jwks = z.object({
  keys: z.array(
    z
      .object({
        kty: z.string(),
        kid: z.string(),
        alg: z.string(),
        use: z.string().optional(),
      })
      .passthrough(),
  ),
});
export type Jwks = z.infer<typeof Jwks>;

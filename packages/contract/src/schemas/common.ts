import { z } from 'zod';

/** A phone number as a human types it; parsed and normalised to E.164 by the API. */
export const PhoneNumberInput = z
  .string({ required_error: 'is required', invalid_type_error: 'must be a string' })
  .trim()
  .min(1, 'must not be empty')
  .max(32, 'is too long (at most 32 characters)');

/** E.164, as stored and returned. */
export const E164 = z.string().regex(/^\+[1-9][0-9]{6,14}$/);

/** Invite codes: 6 characters of an alphabet without look-alikes; input is case-insensitive. */
export const INVITE_CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
export const INVITE_CODE_LENGTH = 6;
export const InviteCode = z.string().regex(/^[A-Z0-9]{6}$/);

import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { INVITE_CODE_ALPHABET, INVITE_CODE_LENGTH } from '@phone-auth/contract';

/** A numeric one-time code from the CSPRNG; every digit uniformly distributed. */
export function generateOtp(length: number): string {
  let code = '';
  for (let i = 0; i < length; i++) code += String(randomInt(10));
  return code;
}

/**
 * HMAC-SHA256 of the code, keyed by OTP_SECRET and bound to the phone, so a stored value is
 * useless without the secret and cannot be replayed for another number.
 */
export function hashOtp(secret: string, phone: string, code: string): string {
  return createHmac('sha256', secret).update(phone).update('\0').update(code).digest('base64url');
}

/** Compares two strings in time that does not depend on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  // Hash both sides so lengths match; equal digests ⇔ equal inputs.
  const ah = createHash('sha256').update(ab).digest();
  const bh = createHash('sha256').update(bb).digest();
  return timingSafeEqual(ah, bh) && ab.length === bb.length;
}

/** 6 characters from an alphabet without look-alikes (no 0/O/1/I/L). */
export function generateInviteCode(): string {
  let code = '';
  for (let i = 0; i < INVITE_CODE_LENGTH; i++) {
    code += INVITE_CODE_ALPHABET[randomInt(INVITE_CODE_ALPHABET.length)];
  }
  return code;
}

/** Opaque refresh token: 256 bits from the CSPRNG, base64url. */
export function generateRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function randomId(): string {
  return randomBytes(12).toString('base64url');
}

import { INVITE_CODE_ALPHABET } from '@phone-auth/contract';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, generateInviteCode, generateOtp, generateRefreshToken, hashOtp } from './secrets.js';

describe('generateOtp', () => {
  it.each([4, 6, 10])('makes %i digits', (length) => {
    for (let i = 0; i < 200; i++) expect(generateOtp(length)).toMatch(new RegExp(`^[0-9]{${length}}$`));
  });

  it('uses every digit in every position (no bias towards a fixed set)', () => {
    const seen = Array.from({ length: 4 }, () => new Set<string>());
    for (let i = 0; i < 2000; i++) {
      const code = generateOtp(4);
      for (let p = 0; p < 4; p++) seen[p]!.add(code[p]!);
    }
    for (const s of seen) expect(s.size).toBe(10);
  });
});

describe('hashOtp', () => {
  it('depends on the secret, the phone and the code, and never contains the code', () => {
    const h = hashOtp('s'.repeat(32), '+79123456789', '1234');
    expect(h).not.toContain('1234');
    expect(hashOtp('s'.repeat(32), '+79123456789', '1234')).toBe(h);
    expect(hashOtp('t'.repeat(32), '+79123456789', '1234')).not.toBe(h);
    expect(hashOtp('s'.repeat(32), '+79123456788', '1234')).not.toBe(h);
    expect(hashOtp('s'.repeat(32), '+79123456789', '1235')).not.toBe(h);
  });
});

describe('constantTimeEqual', () => {
  it('compares strings of any length', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });
});

describe('generateInviteCode', () => {
  it('makes 6 characters of the alphabet without look-alikes', () => {
    for (let i = 0; i < 1000; i++) {
      const code = generateInviteCode();
      expect(code).toMatch(/^[2-9A-HJKMNP-Z]{6}$/);
      expect(code).not.toMatch(/[01OIL]/);
    }
    expect(INVITE_CODE_ALPHABET).toHaveLength(31);
  });
});

describe('generateRefreshToken', () => {
  it('carries 256 bits and is unique', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => generateRefreshToken()));
    expect(tokens.size).toBe(1000);
    for (const t of tokens) expect(Buffer.from(t, 'base64url')).toHaveLength(32);
  });
});

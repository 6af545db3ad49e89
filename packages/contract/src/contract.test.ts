import { describe, expect, it } from 'vitest';
import { ActivateInviteBody, contract, ErrorCode, errorMessage, errorStatus, VerifyCodeBody } from './index.js';

describe('contract', () => {
  it('gives every error code an HTTP error status and a message', () => {
    for (const code of ErrorCode.options) {
      expect(errorStatus[code]).toBeGreaterThanOrEqual(400);
      expect(errorMessage[code].length).toBeGreaterThan(0);
    }
  });

  it('keeps the original paths, with their trailing slash', () => {
    expect(contract.auth.requestCode).toMatchObject({ method: 'POST', path: '/auth/' });
    expect(contract.auth.verifyCode).toMatchObject({ method: 'PUT', path: '/auth/' });
    expect(contract.profile.getProfile).toMatchObject({ method: 'GET', path: '/profile/' });
    expect(contract.profile.activateInvite).toMatchObject({ method: 'POST', path: '/profile/' });
  });

  it('normalises invite codes: case-insensitive, surrounding spaces ignored', () => {
    expect(ActivateInviteBody.parse({ other_profile_invite_code: '  efgh45 ' })).toEqual({ other_profile_invite_code: 'EFGH45' });
    expect(ActivateInviteBody.safeParse({ other_profile_invite_code: 'EFGH4' }).success).toBe(false);
    expect(ActivateInviteBody.safeParse({ other_profile_invite_code: 'EFGH4$' }).success).toBe(false);
  });

  it('accepts codes only as strings of digits', () => {
    expect(VerifyCodeBody.safeParse({ phone_number: '+79123456789', otp_code: '0123' }).success).toBe(true);
    expect(VerifyCodeBody.safeParse({ phone_number: '+79123456789', otp_code: 123 }).success).toBe(false);
    expect(VerifyCodeBody.safeParse({ phone_number: '+79123456789', otp_code: '١٢٣٤' }).success).toBe(false);
  });

  it('puts every admin route under /admin/ behind the admin token', () => {
    for (const route of Object.values(contract.admin)) {
      expect(route.path.startsWith('/admin/')).toBe(true);
      expect(route.metadata).toEqual({ auth: 'admin' });
    }
  });
});

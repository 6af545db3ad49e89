import { describe, expect, it } from 'vitest';
import { maskPhone, maskPhonesInText, parsePhone } from './phone.js';

const ru = { defaultRegion: 'RU' as const, allowedCountries: null };

describe('parsePhone', () => {
  it.each([
    ['89123456789', '+79123456789'],
    ['8 912 345 67 89', '+79123456789'],
    ['+7 (912) 345-67-89', '+79123456789'],
    ['+79123456789', '+79123456789'],
    ['  +7 912 345.67.89  ', '+79123456789'],
    ['+44 7911 123456', '+447911123456'],
    ['+1 (415) 555-2671', '+14155552671'],
  ])('parses %s as %s', (input, e164) => {
    expect(parsePhone(input, ru)).toMatchObject({ ok: true, e164 });
  });

  it('uses DEFAULT_REGION for national numbers', () => {
    expect(parsePhone('07400 123456', { defaultRegion: 'GB', allowedCountries: null })).toMatchObject({
      ok: true,
      e164: '+447400123456',
      country: 'GB',
    });
  });

  it.each([
    ['empty', ''],
    ['letters', 'call me maybe'],
    ['vanity letters', '+1 800 FLOWERS'],
    ['too short', '12345'],
    ['too long', '+7912345678901234'],
    ['impossible area', '+7 000 123 45 67'],
    ['premium rate', '+7 809 505 12 34'],
    ['toll free', '+7 800 555 35 35'],
    ['UK premium rate', '+44 909 879 0000'],
    ['full-width digits', '８９１２３４５６７８９'],
    ['arabic-indic digits', '٨٩١٢٣٤٥٦٧٨٩'],
    ['control characters', '+7912\u0000345678'],
    ['SQL', "1' or '1'='1"],
  ])('refuses %s as PHONE_NUMBER_INVALID', (_label, input) => {
    expect(parsePhone(input, ru)).toEqual({ ok: false, code: 'PHONE_NUMBER_INVALID' });
  });

  it('refuses countries outside SMS_ALLOWED_COUNTRIES', () => {
    const rules = { defaultRegion: 'RU' as const, allowedCountries: new Set(['RU' as const, 'KZ' as const]) };
    expect(parsePhone('+79123456789', rules)).toMatchObject({ ok: true });
    expect(parsePhone('+447400123456', rules)).toEqual({ ok: false, code: 'PHONE_COUNTRY_NOT_ALLOWED' });
  });
});

describe('maskPhone', () => {
  it('keeps the first five and the last two characters', () => {
    expect(maskPhone('+79123456789')).toBe('+7912*****89');
    expect(maskPhone('+447911123456')).toBe('+4479******56');
  });
});

describe('maskPhonesInText', () => {
  it.each([
    ['/admin/users/%2B79123456789', '/admin/users/%2B7912*****89'],
    ['/admin/users/%2b79123456789/block', '/admin/users/%2b7912*****89/block'],
    ['/admin/audit?phone=+79123456789&type=login', '/admin/audit?phone=+7912*****89&type=login'],
    ['/admin/audit?phone=79123456789', '/admin/audit?phone=7912*****89'],
    ['/admin/users?phone_prefix=%2B791234', '/admin/users?phone_prefix=%2B791234'],
    ['/profile/invited-users?limit=100', '/profile/invited-users?limit=100'],
    ['/a/12345678901234567890', '/a/12345678901234567890'],
    // Formatted as people type them, as clients encode them (the README's CLI example among them).
    ['/admin/users/%2B7%20912%20345-67-89', '/admin/users/%2B7912*****89'],
    ['/admin/users/%2B7%20%28912%29%20345-67-89/block', '/admin/users/%2B7912*****89/block'],
    ['/admin/users/8(912)345.67.89', '/admin/users/8912*****89'],
    ['/admin/audit?phone=8%20912%20345%2067%2089&type=login', '/admin/audit?phone=8912*****89&type=login'],
    ['/admin/audit?phone=%2B7+(912)+345-67-89', '/admin/audit?phone=%2B7912*****89'],
    ['/admin/audit?phone=+44%207911%20123456', '/admin/audit?phone=+4479******56'],
    ['/admin/users?phone_prefix=%2B7%20912', '/admin/users?phone_prefix=%2B7%20912'],
    // Digits far apart are not one number.
    ['/profile/invited-users?cursor=dTo0----1----2----3----4----5----6----7', '/profile/invited-users?cursor=dTo0----1----2----3----4----5----6----7'],
  ])('%s → %s', (input, masked) => {
    expect(maskPhonesInText(input)).toBe(masked);
  });

  it('masks a phone exactly as maskPhone does', () => {
    expect(maskPhonesInText('+447911123456')).toBe(maskPhone('+447911123456'));
  });
});

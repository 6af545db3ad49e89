import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { AppError } from './errors.js';

export type PhoneParseResult =
  | { ok: true; e164: string; country: CountryCode | undefined }
  | { ok: false; code: 'PHONE_NUMBER_INVALID' | 'PHONE_COUNTRY_NOT_ALLOWED' };

export interface PhoneRules {
  defaultRegion: CountryCode;
  /** null: every country is allowed. */
  allowedCountries: ReadonlySet<CountryCode> | null;
}

/** What a person types: ASCII digits, a leading +, spaces, dashes, dots and parentheses. */
const HUMAN_FORMAT = /^\+?[0-9 ()\-.]{4,31}$/;

/** Number types that cost the sender money or cannot receive SMS: never send codes to them. */
const REFUSED_TYPES = new Set(['PREMIUM_RATE', 'TOLL_FREE', 'SHARED_COST']);

/**
 * Parses a phone number as typed by a person (`8 912 345-67-89`, `+7 (912) 345-67-89`) into E.164
 * using libphonenumber's full metadata, refusing impossible numbers and paid/toll-free types.
 */
export function parsePhone(input: string, rules: PhoneRules): PhoneParseResult {
  const trimmed = input.trim();
  // Restrict to ASCII before handing to libphonenumber, which would otherwise accept
  // full-width and other Unicode digits and letters as vanity numbers.
  if (!HUMAN_FORMAT.test(trimmed)) return { ok: false, code: 'PHONE_NUMBER_INVALID' };
  const parsed = parsePhoneNumberFromString(trimmed, { defaultCountry: rules.defaultRegion });
  if (!parsed || !parsed.isValid()) return { ok: false, code: 'PHONE_NUMBER_INVALID' };
  const type = parsed.getType();
  if (type && REFUSED_TYPES.has(type)) return { ok: false, code: 'PHONE_NUMBER_INVALID' };
  const country = parsed.country;
  if (rules.allowedCountries && (!country || !rules.allowedCountries.has(country))) {
    return { ok: false, code: 'PHONE_COUNTRY_NOT_ALLOWED' };
  }
  return { ok: true, e164: parsed.number, country };
}

/** parsePhone for services: the E.164 number, or throws PHONE_NUMBER_INVALID / PHONE_COUNTRY_NOT_ALLOWED. */
export function parsePhoneOrThrow(input: string, rules: PhoneRules): string {
  const parsed = parsePhone(input, rules);
  if (!parsed.ok) throw new AppError(parsed.code);
  return parsed.e164;
}

/** `+79123456789` → `+7912*****89`: enough to tell numbers apart in logs, not enough to dial. */
export function maskPhone(e164: string): string {
  if (e164.length <= 7) return '*'.repeat(e164.length);
  return `${e164.slice(0, 5)}${'*'.repeat(e164.length - 7)}${e164.slice(-2)}`;
}

/**
 * What a phone looks like in a URL: 7–15 digits, alone or after a `+` (raw or URL-encoded), with
 * or without the separators people type and clients encode — spaces (`%20`, or `+` in a query),
 * `-`, `.` and brackets (`%28`/`%29`): `%2B7%20(912)%20345-67-89`, `8+912+345+67+89`. At most
 * three separators in a row (`) (`), so digits far apart are not taken for one number.
 */
const PHONE_IN_TEXT = /(?<!\d)(\+|%2[Bb])?(\d(?:(?:%20|%28|%29|[ +\-.()]){0,3}\d){6,14})(?!\d)/g;

/**
 * Masks everything in `text` that may be a phone number, as maskPhone does (`%2B7912*****89`,
 * `+7912*****89`; separators dropped), for log lines that carry URLs. Runs of fewer than 7
 * digits (a phone prefix filter, a page size) stay as they are.
 */
export function maskPhonesInText(text: string): string {
  return text.replace(PHONE_IN_TEXT, (_m, plus: string | undefined, run: string) => {
    const digits = run.replace(/%2[089]|\D/g, '');
    return `${plus ?? ''}${maskPhone(`+${digits}`).slice(1)}`;
  });
}

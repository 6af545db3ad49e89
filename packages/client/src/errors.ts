import { ErrorBody, type ErrorCode, type FieldError } from '@phone-auth/contract';

/**
 * Codes the SDK itself produces when there is no API answer to report: the server could not be
 * reached, or it answered something that is not the API's error format.
 */
export type ClientErrorCode = 'NETWORK_ERROR' | 'UNEXPECTED_RESPONSE';

/** Every code a `PhoneAuthError` can carry: the contract's `ErrorCode` union plus the SDK's own. */
export type PhoneAuthErrorCode = ErrorCode | ClientErrorCode;

/** A failed call: the API's error code, HTTP status (0 when no answer came) and details. */
export class PhoneAuthError extends Error {
  override name = 'PhoneAuthError';
  readonly code: PhoneAuthErrorCode;
  /** HTTP status; 0 for NETWORK_ERROR. */
  readonly status: number;
  /** Seconds to wait before retrying (429s, 503), from `retry_after` or `Retry-After`. */
  readonly retryAfter: number | undefined;
  /** Offending fields of a VALIDATION_FAILED. */
  readonly fields: FieldError[] | undefined;
  /** The server's request id (`x-request-id`), for support. */
  readonly requestId: string | undefined;

  constructor(
    code: PhoneAuthErrorCode,
    message: string,
    opts: { status: number; retryAfter?: number; fields?: FieldError[]; requestId?: string; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.status = opts.status;
    this.retryAfter = opts.retryAfter;
    this.fields = opts.fields;
    this.requestId = opts.requestId;
  }
}

/** True when `err` is a PhoneAuthError, optionally with one of the given codes. */
export function isPhoneAuthError(err: unknown, ...codes: PhoneAuthErrorCode[]): err is PhoneAuthError {
  return err instanceof PhoneAuthError && (codes.length === 0 || codes.includes(err.code));
}

/** Builds the error of a non-2xx response. */
export function errorFromResponse(status: number, body: unknown, headers: Headers): PhoneAuthError {
  const parsed = ErrorBody.safeParse(body);
  const requestId = headers.get('x-request-id') ?? undefined;
  if (!parsed.success) {
    return new PhoneAuthError('UNEXPECTED_RESPONSE', `The server answered HTTP ${status} without an API error body.`, {
      status,
      requestId,
    });
  }
  const { code, message, retry_after, fields, request_id } = parsed.data.error;
  const header = Number(headers.get('retry-after'));
  const retryAfter = retry_after ?? (Number.isFinite(header) && header > 0 ? header : undefined);
  return new PhoneAuthError(code, message, { status, retryAfter, fields, requestId: request_id ?? requestId });
}

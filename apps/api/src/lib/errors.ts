import { errorMessage, type ErrorCode, type FieldError } from '@phone-auth/contract';

/**
 * A failure the client should hear about. Services throw it; the root error handler turns it
 * into `{"error": {"code", "message", …}}` with the status from the contract's table.
 */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly extra: { retryAfterSeconds?: number; fields?: FieldError[] } = {},
  ) {
    super(message ?? errorMessage[code]);
  }
}

/** Rounds a wait up to whole seconds, at least 1, for `retry_after` and `Retry-After`. */
export function retrySeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** Wrong usage detected by the CLI itself (exit code 2), e.g. a missing admin token. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure that is neither an API error nor wrong usage, with a code for the error line (exit 1). */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

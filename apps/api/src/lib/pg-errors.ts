/** Postgres SQLSTATE of an error from `pg` or PGlite, if any. */
export function sqlState(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code)) {
    return err.code;
  }
  return undefined;
}

export function constraintName(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'constraint' in err && typeof err.constraint === 'string') return err.constraint;
  return undefined;
}

export const UNIQUE_VIOLATION = '23505';

/** Prints `value` as JSON (for --json) on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}

const show = (v: unknown): string => (v === null || v === undefined || v === '' ? '-' : String(v));

/** A plain-text table: a header row, then one row per item, columns padded to fit. */
export function printTable(columns: string[], rows: unknown[][]): void {
  const cells = [columns, ...rows.map((r) => r.map(show))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const row of cells) print(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

/** `key  value` lines, keys aligned. */
export function printFields(fields: [string, unknown][]): void {
  const width = Math.max(...fields.map(([k]) => k.length));
  for (const [k, v] of fields) print(`${k.padEnd(width)}  ${show(v)}`);
}

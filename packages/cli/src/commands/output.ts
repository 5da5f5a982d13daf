import { stringify } from 'yaml';
import { UsageError } from '../command.js';

/** The output formats of read commands (DESIGN §4); bundle commands add `pem` and `spiffe`. */
export type OutputFormat = 'table' | 'json' | 'yaml' | 'pem' | 'spiffe';

/** The format `-o` names, one of `allowed`; `fallback` when absent; anything else is a usage error. */
export function outputFormat<T extends OutputFormat>(
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`-o must be one of ${allowed.join(', ')}, not "${value.slice(0, 32)}"`);
}

/** A value as JSON (two-space indent) or YAML, ending with a newline. */
export function renderData(format: 'json' | 'yaml', value: unknown): string {
  return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value);
}

/** Rows under upper-case headers, columns aligned with two spaces; `(none)` for no rows. */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  if (rows.length === 0) return '(none)\n';
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** Labelled fields, one per line, values aligned: the table form of one object. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`.trimEnd()).join('\n') + '\n';
}

import type { SqlValue } from '../database.js';

/** Collects the values of a statement built piece by piece and names each `$n` in turn. */
export class SqlParams {
  readonly values: SqlValue[] = [];

  /** Adds `value` and returns its placeholder. */
  add(value: SqlValue): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }

  /** Adds every value and returns their placeholders separated by commas. */
  list(values: readonly SqlValue[]): string {
    return values.map((v) => this.add(v)).join(', ');
  }
}

/** Statements bind at most this many values at once in this module (well below both limits). */
export const MAX_BOUND_VALUES = 900;

/** Splits `items` into chunks of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

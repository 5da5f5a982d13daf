import { createHash } from 'node:crypto';
import { ParleyError, invalidArgument } from '@parley/core';
import type { SqlParams } from './sql-params.js';
import { checkText } from './stored-value.js';

/** A selector: one attested property of a workload or node, e.g. `unix` / `uid:1000`. */
import type { Selector } from '@parley/core';

export type { Selector };

/**
 * How a selector filter compares with a row's selector set (SPIRE's match modes): `exact` (the
 * same set), `subset` (every selector of the row is among the given ones), `superset` (the row
 * has every given selector) or `any` (the row has at least one of them).
 */
export type SelectorMatch = 'exact' | 'subset' | 'superset' | 'any';

/** A filter on selectors for listing entries or agents. */
export interface SelectorFilter {
  readonly selectors: readonly Selector[];
  readonly match: SelectorMatch;
}

/** Filters with more selectors than this are refused (they become one SQL parameter each). */
export const MAX_FILTER_SELECTORS = 1000;

const compare = (a: Selector, b: Selector): number =>
  a.type < b.type ? -1 : a.type > b.type ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0;

/**
 * The canonical form of a selector set: sorted by type then value. A selector that is not a pair
 * of strings is a TypeError; a duplicate would break the selectors table's key and is refused.
 */
export function canonicalSelectors(selectors: readonly Selector[], what: string): Selector[] {
  if (!Array.isArray(selectors)) throw new TypeError(`${what} selectors must be an array`);
  const sorted = selectors.map((s: Selector) => {
    if (typeof s?.type !== 'string' || typeof s.value !== 'string') {
      throw new TypeError(`${what} selectors must be { type, value } pairs of strings`);
    }
    checkText(`${what} selector type`, s.type);
    checkText(`${what} selector value`, s.value);
    return { type: s.type, value: s.value };
  });
  sorted.sort(compare);
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1], sorted[i]];
    if (a !== undefined && b !== undefined && compare(a, b) === 0) {
      throw invalidArgument(`${what} has the selector ${a.type}:${a.value} more than once`);
    }
  }
  return sorted;
}

/** The stored text of a canonical selector set: a JSON array of `[type, value]` pairs. */
export function selectorsJson(canonical: readonly Selector[]): string {
  return JSON.stringify(canonical.map((s) => [s.type, s.value]));
}

/** Hex SHA-256 of a canonical selector set's JSON: equal exactly when the sets are equal. */
export function selectorsHash(canonical: readonly Selector[]): string {
  return createHash('sha256').update(selectorsJson(canonical), 'utf8').digest('hex');
}

/** Reads back a selector set stored by `selectorsJson`. */
export function storedSelectors(text: string, where: string): Selector[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    !parsed.every(
      (p: unknown) =>
        Array.isArray(p) && p.length === 2 && p.every((x: unknown) => typeof x === 'string'),
    )
  ) {
    throw new ParleyError('internal', `stored selectors of ${where} are corrupt`);
  }
  return (parsed as [string, string][]).map(([type, value]) => ({ type, value }));
}

/**
 * The SQL condition "the row whose key is `rowKey` matches `filter`", where `table` holds one
 * `(key, type, value)` row per selector of each row.
 */
export function selectorCondition(
  filter: SelectorFilter,
  table: string,
  key: string,
  rowKey: string,
  params: SqlParams,
): string {
  const selectors = canonicalSelectors(filter.selectors, 'selector filter');
  if (selectors.length === 0)
    throw invalidArgument('a selector filter needs at least one selector');
  if (selectors.length > MAX_FILTER_SELECTORS) {
    throw invalidArgument(`a selector filter has at most ${MAX_FILTER_SELECTORS} selectors`);
  }
  const given = selectors
    .map((s) => `(s.type = ${params.add(s.type)} AND s.value = ${params.add(s.value)})`)
    .join(' OR ');
  const ofRow = `FROM ${table} s WHERE s.${key} = ${rowKey}`;
  // Built on demand: every value added to params must appear in the statement.
  const hasAll = () =>
    `${rowKey} IN (SELECT s.${key} FROM ${table} s WHERE ${given} GROUP BY s.${key} ` +
    `HAVING COUNT(*) = ${params.add(selectors.length)})`;
  const onlyGiven = `NOT EXISTS (SELECT 1 ${ofRow} AND NOT (${given}))`;
  switch (filter.match) {
    case 'any':
      return `EXISTS (SELECT 1 ${ofRow} AND (${given}))`;
    case 'superset':
      return hasAll();
    case 'exact':
      return `${hasAll()} AND ${onlyGiven}`;
    case 'subset':
      return `EXISTS (SELECT 1 ${ofRow}) AND ${onlyGiven}`;
    default:
      throw new TypeError(`unknown selector match ${String(filter.match)}`);
  }
}

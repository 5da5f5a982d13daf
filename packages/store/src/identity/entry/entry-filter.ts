import type { SpiffeId } from '@parley/core';
import type { SelectorFilter } from '../selector.js';
import { selectorCondition } from '../selector.js';
import type { SqlParams } from '../sql-params.js';
import { checkSpiffeId } from '../stored-value.js';

/** Conditions on entries, all of which must hold. */
export interface EntryFilter {
  readonly bySpiffeId?: SpiffeId;
  readonly byParentId?: SpiffeId;
  readonly bySelectors?: SelectorFilter;
}

/** The SQL conditions (on the alias `e`) of `filter`, with their values added to `params`. */
export function entryConditions(filter: EntryFilter, params: SqlParams): string[] {
  const conditions: string[] = [];
  if (filter.bySpiffeId !== undefined) {
    checkSpiffeId('bySpiffeId', filter.bySpiffeId);
    conditions.push(`e.spiffe_id = ${params.add(filter.bySpiffeId.toString())}`);
  }
  if (filter.byParentId !== undefined) {
    checkSpiffeId('byParentId', filter.byParentId);
    conditions.push(`e.parent_id = ${params.add(filter.byParentId.toString())}`);
  }
  if (filter.bySelectors !== undefined) {
    conditions.push(
      selectorCondition(filter.bySelectors, 'entry_selectors', 'entry_id', 'e.id', params),
    );
  }
  return conditions;
}

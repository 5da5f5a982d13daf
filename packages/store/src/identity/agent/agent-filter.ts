import type { SelectorFilter } from '../selector.js';
import { selectorCondition } from '../selector.js';
import type { SqlParams } from '../sql-params.js';
import { checkCount } from '../stored-value.js';

/** Conditions on attested agents, all of which must hold. */
export interface AgentFilter {
  readonly byAttestationType?: string;
  readonly byBanned?: boolean;
  /** On the node selectors. */
  readonly bySelectors?: SelectorFilter;
  /** Agents whose current SVID expires before this time (ms): candidates for pruning. */
  readonly byCertNotAfterBefore?: number;
}

/** The SQL conditions (on the alias `a`) of `filter`, with their values added to `params`. */
export function agentConditions(filter: AgentFilter, params: SqlParams): string[] {
  const conditions: string[] = [];
  if (filter.byAttestationType !== undefined) {
    conditions.push(`a.attestation_type = ${params.add(filter.byAttestationType)}`);
  }
  if (filter.byBanned !== undefined) {
    conditions.push(`a.banned = ${params.add(filter.byBanned ? 1 : 0)}`);
  }
  if (filter.bySelectors !== undefined) {
    conditions.push(
      selectorCondition(filter.bySelectors, 'node_selectors', 'spiffe_id', 'a.spiffe_id', params),
    );
  }
  if (filter.byCertNotAfterBefore !== undefined) {
    checkCount('byCertNotAfterBefore', filter.byCertNotAfterBefore);
    conditions.push(`a.cert_not_after < ${params.add(filter.byCertNotAfterBefore)}`);
  }
  return conditions;
}

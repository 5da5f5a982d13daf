import type { SpiffeId } from '@parley/core';
import type { Transaction } from '../../database.js';
import type { Selector } from '../selector.js';
import { canonicalSelectors, selectorsJson } from '../selector.js';
import { checkCount, checkSpiffeId, checkTransaction } from '../stored-value.js';
import type { AgentRow, AttestedAgent } from './attested-agent.js';
import {
  AGENT_COLUMNS,
  agentFromRow,
  agentNotFound,
  insertNodeSelectors,
} from './attested-agent.js';

/**
 * Replaces the node selectors of agent `spiffeId` in `tx` (after a re-attestation). Fails with
 * `not-found` when the agent is not attested.
 */
export async function setAgentSelectors(
  tx: Transaction,
  spiffeId: SpiffeId,
  selectors: readonly Selector[],
  now: number,
): Promise<AttestedAgent> {
  checkTransaction('setAgentSelectors', tx);
  checkSpiffeId('agent spiffeId', spiffeId);
  checkCount('now', now);
  const canonical = canonicalSelectors(selectors, 'agent');
  const id = spiffeId.toString();
  const [row] = await tx.query<AgentRow>(
    `UPDATE attested_agents SET selectors = $1, updated_at = $2 WHERE spiffe_id = $3
     RETURNING ${AGENT_COLUMNS}`,
    [selectorsJson(canonical), now, id],
  );
  if (row === undefined) throw agentNotFound(spiffeId);
  await tx.execute('DELETE FROM node_selectors WHERE spiffe_id = $1', [id]);
  await insertNodeSelectors(tx, id, canonical);
  return agentFromRow(row);
}

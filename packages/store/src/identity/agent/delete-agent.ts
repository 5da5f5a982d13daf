import type { SpiffeId } from '@parley/core';
import type { Queryable } from '../../database.js';
import { checkSpiffeId } from '../stored-value.js';
import type { AgentRow, AttestedAgent } from './attested-agent.js';
import { AGENT_COLUMNS, agentFromRow, agentNotFound } from './attested-agent.js';

/**
 * Deletes (evicts) agent `spiffeId` and its node selectors, returning it as it was: it must
 * attest again. Fails with `not-found` when it is not attested.
 */
export async function deleteAgent(db: Queryable, spiffeId: SpiffeId): Promise<AttestedAgent> {
  checkSpiffeId('agent spiffeId', spiffeId);
  const [row] = await db.query<AgentRow>(
    `DELETE FROM attested_agents WHERE spiffe_id = $1 RETURNING ${AGENT_COLUMNS}`,
    [spiffeId.toString()],
  );
  if (row === undefined) throw agentNotFound(spiffeId);
  return agentFromRow(row);
}

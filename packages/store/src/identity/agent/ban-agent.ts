import type { SpiffeId } from '@parley/core';
import type { Queryable } from '../../database.js';
import { checkCount, checkSpiffeId } from '../stored-value.js';
import type { AgentRow, AttestedAgent } from './attested-agent.js';
import { AGENT_COLUMNS, agentFromRow, agentNotFound } from './attested-agent.js';

/**
 * Bans agent `spiffeId` at `now`: the identity module refuses it from then on, and it cannot
 * attest again until it is deleted. Fails with `not-found` when it is not attested.
 */
export async function banAgent(
  db: Queryable,
  spiffeId: SpiffeId,
  now: number,
): Promise<AttestedAgent> {
  checkSpiffeId('agent spiffeId', spiffeId);
  checkCount('now', now);
  const [row] = await db.query<AgentRow>(
    `UPDATE attested_agents SET banned = 1, updated_at = $1 WHERE spiffe_id = $2
     RETURNING ${AGENT_COLUMNS}`,
    [now, spiffeId.toString()],
  );
  if (row === undefined) throw agentNotFound(spiffeId);
  return agentFromRow(row);
}

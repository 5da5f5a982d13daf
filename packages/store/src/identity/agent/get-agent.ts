import type { SpiffeId } from '@parley/core';
import type { Queryable } from '../../database.js';
import { checkSpiffeId } from '../stored-value.js';
import type { AgentRow, AttestedAgent } from './attested-agent.js';
import { AGENT_COLUMNS, agentFromRow } from './attested-agent.js';

/** The attested agent `spiffeId` (with its node selectors), or undefined when there is none. */
export async function getAgent(
  db: Queryable,
  spiffeId: SpiffeId,
): Promise<AttestedAgent | undefined> {
  checkSpiffeId('agent spiffeId', spiffeId);
  const [row] = await db.query<AgentRow>(
    `SELECT ${AGENT_COLUMNS} FROM attested_agents WHERE spiffe_id = $1`,
    [spiffeId.toString()],
  );
  return row === undefined ? undefined : agentFromRow(row);
}

import type { Queryable } from '../../database.js';
import { SqlParams } from '../sql-params.js';
import type { AgentFilter } from './agent-filter.js';
import { agentConditions } from './agent-filter.js';

/** The number of attested agents that match every filter given (all without one). */
export async function countAgents(db: Queryable, filter: AgentFilter = {}): Promise<number> {
  const params = new SqlParams();
  const conditions = agentConditions(filter, params);
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  const [row] = await db.query<{ n: number }>(
    `SELECT COUNT(*) AS n FROM attested_agents a ${where}`,
    params.values,
  );
  return row?.n ?? 0;
}

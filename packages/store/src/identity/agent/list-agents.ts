import type { Queryable } from '../../database.js';
import { decodePageToken, encodePageToken, pageSize } from '../page-token.js';
import { SqlParams } from '../sql-params.js';
import type { AgentFilter } from './agent-filter.js';
import { agentConditions } from './agent-filter.js';
import type { AgentRow, AttestedAgent } from './attested-agent.js';
import { AGENT_COLUMNS_A, agentFromRow } from './attested-agent.js';

/** A request for one page of attested agents. */
export interface ListAgentsRequest extends AgentFilter {
  /** Agents per page: 100 when absent or 0, at most 1000 (larger requests are capped). */
  readonly pageSize?: number;
  /** The `nextPageToken` of the previous page; absent or `''` for the first page. */
  readonly pageToken?: string;
}

/** One page of agents, ordered by SPIFFE ID, and the token of the next page if there is one. */
export interface AgentPage {
  readonly agents: readonly AttestedAgent[];
  readonly nextPageToken?: string;
}

const TOKEN_KIND = 'agents';

/** Lists the attested agents that match every filter given, a page at a time (by cursor). */
export async function listAgents(
  db: Queryable,
  request: ListAgentsRequest = {},
): Promise<AgentPage> {
  const size = pageSize(request.pageSize);
  const after = decodePageToken(TOKEN_KIND, request.pageToken);
  const params = new SqlParams();
  const conditions = agentConditions(request, params);
  if (after !== undefined) conditions.push(`a.spiffe_id > ${params.add(after)}`);
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  const rows = await db.query<AgentRow>(
    `SELECT ${AGENT_COLUMNS_A} FROM attested_agents a ${where}
     ORDER BY a.spiffe_id LIMIT ${params.add(size + 1)}`,
    params.values,
  );
  const page = rows.slice(0, size).map(agentFromRow);
  const last = rows[page.length - 1];
  return rows.length > size && last !== undefined
    ? { agents: page, nextPageToken: encodePageToken(TOKEN_KIND, last.spiffe_id) }
    : { agents: page };
}

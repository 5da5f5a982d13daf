import { ParleyError, invalidArgument, parseSpiffeId } from '@parley/core';
import {
  type AttestedAgent,
  appendAudit,
  banAgent,
  deleteAgent,
  getAgent,
  listAgents,
} from '@parley/store';
import type { AdminApiDeps } from './admin-api-deps.js';
import { adminAuditEvent } from './admin-audit.js';
import type { AgentDto, AgentPageDto } from './admin-dto.js';
import { queryPageSize } from './entry-routes.js';
import { type Route, type RouteRequest, queryOne } from './route.js';
import { formatTimestamp } from './timestamp.js';

/** An attested agent on the wire. */
export function agentDto(a: AttestedAgent): AgentDto {
  return {
    spiffeId: a.spiffeId.toString(),
    attestationType: a.attestationType,
    selectors: a.selectors.map((s) => ({ type: s.type, value: s.value })),
    certSerialNumber: a.certSerialNumber,
    certNotAfter: formatTimestamp(a.certNotAfter),
    banned: a.banned,
    createdAt: formatTimestamp(a.createdAt),
    updatedAt: formatTimestamp(a.updatedAt),
  };
}

function agentId(req: RouteRequest) {
  return parseSpiffeId(req.params['id'] ?? '');
}

function queryBanned(req: RouteRequest): boolean | undefined {
  const text = queryOne(req, 'banned');
  if (text === undefined) return undefined;
  if (text !== 'true' && text !== 'false') throw invalidArgument('banned must be true or false');
  return text === 'true';
}

/** The agent endpoints: list, show, evict (delete: the agent must attest again) and ban. */
export function agentRoutes(deps: AdminApiDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/agents',
      query: { banned: 'one', attestationType: 'one', pageSize: 'one', pageToken: 'one' },
      handle: async (req) => {
        const pageSize = queryPageSize(req);
        const pageToken = queryOne(req, 'pageToken');
        const banned = queryBanned(req);
        const type = queryOne(req, 'attestationType');
        const page = await listAgents(deps.db, {
          ...(pageSize === undefined ? {} : { pageSize }),
          ...(pageToken === undefined ? {} : { pageToken }),
          ...(banned === undefined ? {} : { byBanned: banned }),
          ...(type === undefined ? {} : { byAttestationType: type }),
        });
        const dto: AgentPageDto = {
          agents: page.agents.map(agentDto),
          ...(page.nextPageToken === undefined ? {} : { nextPageToken: page.nextPageToken }),
        };
        return { body: dto };
      },
    },
    {
      method: 'GET',
      path: '/v1/agents/:id',
      handle: async (req) => {
        const id = agentId(req);
        const agent = await getAgent(deps.db, id);
        if (agent === undefined)
          throw new ParleyError('not-found', `agent ${id.toString()} is not attested`);
        return { body: agentDto(agent) };
      },
    },
    {
      method: 'DELETE',
      path: '/v1/agents/:id',
      handle: async (req) => {
        const id = agentId(req);
        const evicted = await deps.db.transaction(async (tx) => {
          const agent = await deleteAgent(tx, id);
          await appendAudit(
            tx,
            adminAuditEvent(deps, 'agent.evict', id.toString(), {
              attestationType: agent.attestationType,
            }),
          );
          return agent;
        });
        return { body: agentDto(evicted) };
      },
    },
    {
      method: 'POST',
      path: '/v1/agents/:id/ban',
      handle: async (req) => {
        const id = agentId(req);
        const banned = await deps.db.transaction(async (tx) => {
          const agent = await banAgent(tx, id, deps.clock.now());
          await appendAudit(
            tx,
            adminAuditEvent(deps, 'agent.ban', id.toString(), {
              attestationType: agent.attestationType,
            }),
          );
          return agent;
        });
        return { body: agentDto(banned) };
      },
    },
  ];
}

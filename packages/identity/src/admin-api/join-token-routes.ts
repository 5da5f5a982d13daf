import { type SpiffeId, invalidArgument, parseSpiffeId } from '@parley/core';
import { appendAudit, createJoinToken } from '@parley/store';
import { newJoinToken } from '../node-attestation/join-token.js';
import type { AdminApiDeps } from './admin-api-deps.js';
import { adminAuditEvent } from './admin-audit.js';
import type { JoinTokenDto } from './admin-dto.js';
import { readRequest } from './request-reader.js';
import type { Route } from './route.js';
import { formatTimestamp } from './timestamp.js';

/** A join token's lifetime when the request names none (SPIRE's default), in seconds. */
export const DEFAULT_JOIN_TOKEN_TTL_SECONDS = 600;
/** The longest a join token may live: a token lying around for longer is a liability. */
export const MAX_JOIN_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

const AGENT_PATH = '/parley/agent/';

/**
 * `POST /v1/join-tokens {spiffeId?, ttl?}`: a single-use join token. The agent that presents it
 * attests as `spiffeId` (an agent ID, under `/parley/agent/` in the trust domain) or, without
 * one, as a fresh `/parley/agent/join_token/<uuid>`. Only the token's hash is stored and audited;
 * the response is the only place the token ever appears.
 */
export function joinTokenRoutes(deps: AdminApiDeps): Route[] {
  const td = deps.trustDomain;
  return [
    {
      method: 'POST',
      path: '/v1/join-tokens',
      body: true,
      handle: async ({ body }) => {
        const request = readRequest(body, 'join token request', (r) => ({
          spiffeId: r.has('spiffeId') ? r.parsed('spiffeId', parseSpiffeId) : undefined,
          ttl: r.integer('ttl', DEFAULT_JOIN_TOKEN_TTL_SECONDS, 1, MAX_JOIN_TOKEN_TTL_SECONDS),
        }));
        if (request.spiffeId !== undefined) checkAgentId(request.spiffeId, td.name);
        const generated = newJoinToken(td);
        const agentId = request.spiffeId ?? generated.agentId;
        const now = deps.clock.now();
        const expiresAt = now + request.ttl * 1000;
        await deps.db.transaction(async (tx) => {
          const record = await createJoinToken(
            tx,
            { token: generated.token, spiffeId: agentId, expiresAt },
            now,
          );
          await appendAudit(
            tx,
            adminAuditEvent(deps, 'join-token.create', agentId.toString(), {
              tokenHash: record.tokenHash,
              expiresAt: formatTimestamp(expiresAt),
            }),
          );
        });
        const dto: JoinTokenDto = {
          token: generated.token,
          agentSpiffeId: agentId.toString(),
          expiresAt: formatTimestamp(expiresAt),
        };
        return { status: 201, body: dto };
      },
    },
  ];
}

function checkAgentId(id: SpiffeId, td: string): void {
  if (id.trustDomain.name !== td || !id.path.startsWith(AGENT_PATH) || id.path === AGENT_PATH) {
    throw invalidArgument(
      `agent SPIFFE ID ${id.toString()} must be in trust domain ${td} under ${AGENT_PATH} ` +
        `(e.g. spiffe://${td}${AGENT_PATH}node-1)`,
    );
  }
}

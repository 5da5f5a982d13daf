import { randomBytes, randomUUID } from 'node:crypto';
import { type Clock, type SpiffeId, type TrustDomain, parseSpiffeId } from '@parley/core';
import type { NodeAttestation, NodeAttestor } from './node-attestor.js';

/** What the join-token attestor needs from the store (consumer-owned). */
export interface JoinTokenStore {
  /**
   * Deletes the token and returns the agent ID it grants, at most once ever; undefined when it
   * does not exist or has expired. The store keeps only a hash of the token.
   */
  consumeJoinToken(token: string, now: number): Promise<{ readonly agentId: SpiffeId } | undefined>;
}

/**
 * A new join token and the agent SPIFFE ID it grants. The token is 32 random bytes (base64url) and
 * never appears in the ID: the path carries a random UUID, so tokens never become path material.
 */
export function newJoinToken(td: TrustDomain): { token: string; agentId: SpiffeId } {
  return {
    token: randomBytes(32).toString('base64url'),
    agentId: parseSpiffeId(`${td.idString()}/parley/agent/join_token/${randomUUID()}`),
  };
}

const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

/** The `join_token` node attestor: a single-use, expiring token (SPIRE's join_token). */
export function joinTokenAttestor(deps: { store: JoinTokenStore; clock: Clock }): NodeAttestor {
  return {
    type: 'join_token',
    async attest(payload): Promise<NodeAttestation> {
      const token = Buffer.from(payload).toString('utf8');
      if (!TOKEN.test(token)) return { ok: false, reason: 'join token is malformed' };
      const granted = await deps.store.consumeJoinToken(token, deps.clock.now());
      if (granted === undefined) {
        return { ok: false, reason: 'join token does not exist, was used or has expired' };
      }
      return { ok: true, agentId: granted.agentId, selectors: [] };
    },
  };
}

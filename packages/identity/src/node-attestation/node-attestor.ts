import type { SpiffeId } from '@parley/core';
import type { Selector } from '../entries/registration-entry.js';

/** The outcome of attesting a node: its agent SPIFFE ID and node selectors, or why not. */
export type NodeAttestation =
  | { readonly ok: true; readonly agentId: SpiffeId; readonly selectors: readonly Selector[] }
  | { readonly ok: false; readonly reason: string };

/** Sends a challenge to the attesting agent and resolves with its response. */
export type Challenge = (challenge: Uint8Array) => Promise<Uint8Array>;

/**
 * A server-side node attestor: turns an agent's attestation payload (and, for challenge-response
 * attestors, its answers) into an agent identity. Registered by name in an explicit table.
 */
export interface NodeAttestor {
  readonly type: string;
  attest(payload: Uint8Array, challenge: Challenge): Promise<NodeAttestation>;
}

/** Bounds every attestation payload before any parsing. */
export const MAX_ATTESTATION_PAYLOAD_BYTES = 64 * 1024;

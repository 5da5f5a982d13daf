import { type PeerNamedCall, peerOf } from '../peer/peer-of.js';
import { attestWorkload } from './attest-workload.js';
import type { WorkloadAttestation, WorkloadAttestor } from './workload-attestor.js';

/** Attests the caller of a gRPC call served by listenUnixGrpc (the Workload API's `identify`). */
export async function attestCaller(
  call: PeerNamedCall,
  attestors: readonly WorkloadAttestor[],
): Promise<WorkloadAttestation> {
  const peer = peerOf(call);
  if (peer === undefined) {
    return { ok: false, reason: 'the call did not arrive over an attested Unix socket' };
  }
  return attestWorkload(peer, attestors);
}

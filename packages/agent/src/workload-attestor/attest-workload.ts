import type { WorkloadAttestation, WorkloadAttestor, WorkloadPeer } from './workload-attestor.js';

/**
 * Attests a workload with every configured attestor, then checks that its process still runs:
 * attestors read `/proc/<pid>`, which described the caller only if `pid` was not reused meanwhile,
 * and a live pidfd proves it was not. A process gone before or during attestation is denied.
 */
export async function attestWorkload(
  peer: WorkloadPeer,
  attestors: readonly WorkloadAttestor[],
): Promise<WorkloadAttestation> {
  if (!peer.isAlive()) return { ok: false, reason: 'the calling process has exited' };
  const outcomes = await Promise.all(attestors.map((attestor) => attestor.attest(peer)));
  const selectors = [];
  for (const outcome of outcomes) {
    if (!outcome.ok) return outcome;
    selectors.push(...outcome.selectors);
  }
  if (!peer.isAlive()) return { ok: false, reason: 'process exited during attestation' };
  return { ok: true, selectors };
}

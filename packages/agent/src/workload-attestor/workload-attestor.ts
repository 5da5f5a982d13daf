import type { Selector } from './selector.js';

/** What a workload attestor needs to know of its caller (satisfied by the peer's credentials). */
export interface WorkloadPeer {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
  /** True while the process that connected runs (and so `pid` has not been reused). */
  isAlive(): boolean;
}

/** The outcome of attesting a workload: the selectors observed, or why there are none. */
export type WorkloadAttestation =
  | { readonly ok: true; readonly selectors: readonly Selector[] }
  | { readonly ok: false; readonly reason: string };

/**
 * An agent-side workload attestor: turns a caller's peer into selectors of its type. It may read
 * `/proc/<pid>`; the caller confirms afterwards that `pid` still names the same process.
 */
export interface WorkloadAttestor {
  readonly type: string;
  attest(peer: WorkloadPeer): Promise<WorkloadAttestation>;
}

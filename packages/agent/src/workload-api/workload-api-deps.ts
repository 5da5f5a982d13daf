import type { ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { Bundle, Clock, SpiffeId } from '@parley/core';

/** A Workload API call, unary or server-streaming, as grpc-js hands it to a handler. */
export type WorkloadApiCall =
  ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>;

export type { Selector } from '@parley/core';
import type { Selector } from '@parley/core';

/** Who is calling: the caller's selectors, or why the caller could not be attested. */
export type CallerResult =
  | { readonly ok: true; readonly selectors: readonly Selector[] }
  | { readonly ok: false; readonly reason: string };

/** One X509-SVID of a caller, ready for the wire. */
export interface WorkloadX509Svid {
  readonly spiffeId: SpiffeId;
  /** DER certificates, the leaf first, then intermediates. */
  readonly certChain: readonly Uint8Array[];
  /** The SVID's private key as unencrypted PKCS#8 DER. */
  readonly privateKey: Uint8Array;
  /** The entry's hint ('' when none). */
  readonly hint: string;
}

/** Everything a caller with a given selector set is entitled to see, at one instant. */
export interface WorkloadView {
  /** The caller's X509-SVIDs, the default identity first; empty when it is entitled to none. */
  readonly svids: readonly WorkloadX509Svid[];
  /** The bundle of the agent's own trust domain. */
  readonly bundle: Bundle;
  /** The bundles of the foreign trust domains any of the caller's entries federates with. */
  readonly federatedBundles: readonly Bundle[];
}

/** A JWT-SVID fetched for a caller. */
export interface WorkloadJwtSvid {
  /** The token (JWS compact serialization); never logged. */
  readonly token: string;
}

/**
 * What the Workload API needs from the agent's SVID cache (consumer-owned, STYLE rule 5).
 * `viewFor` is synchronous so that one change event fans out to every stream in one pass.
 */
export interface WorkloadIdentityCache {
  /** The caller's current view; throws a ParleyError (e.g. `unavailable`) when there is none yet. */
  viewFor(selectors: readonly Selector[]): WorkloadView;
  /**
   * A JWT-SVID of `spiffeId` for `audience` (cached or freshly minted); rejects with a
   * `permission-denied` ParleyError when the selectors are no longer entitled to it.
   */
  fetchJwtSvid(
    selectors: readonly Selector[],
    spiffeId: SpiffeId,
    audience: readonly string[],
  ): Promise<WorkloadJwtSvid>;
  /** Calls `listener` after any SVID, entry or bundle changes; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/** Where the Workload API reports what the caller is not told (unexpected failures, attestation). */
export interface WorkloadApiLog {
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
  error(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** The neighbours of the Workload API service, wired by the agent's composition root. */
export interface WorkloadApiDeps {
  /** Attests the caller of `call` (peer credentials, then workload attestors). */
  identify(call: WorkloadApiCall): Promise<CallerResult>;
  readonly cache: WorkloadIdentityCache;
  readonly clock: Clock;
  readonly log: WorkloadApiLog;
}

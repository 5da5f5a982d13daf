import {
  type DeltaDiscoveryRequest,
  type DiscoveryRequest,
  XDS_TYPE_URL,
  type XdsTypeUrl,
} from '@parley/api';
import { ParleyError } from '@parley/core';
import type {
  MeshSnapshot,
  ProxyNode,
  ProxyResources,
  XdsResource,
} from '../snapshot/mesh-snapshot.js';
import type { AdsStreamKind } from '../status/mesh-status.js';
import { encodeDeltaDiscoveryResponse, encodeDiscoveryResponse } from './discovery-encoding.js';

/**
 * The order in which types are pushed (xDS protocol, "Eventual consistency considerations"):
 * clusters before the endpoints they use, listeners after clusters, routes after listeners. A type
 * is sent only while no earlier type has a response awaiting its ACK or NACK.
 */
export const PUSH_ORDER: readonly XdsTypeUrl[] = [
  XDS_TYPE_URL.cluster,
  XDS_TYPE_URL.endpoint,
  XDS_TYPE_URL.listener,
  XDS_TYPE_URL.route,
];

/** Types whose empty (or `*`) subscription means "every resource" (LDS and CDS). */
const WILDCARD_TYPES: ReadonlySet<string> = new Set([XDS_TYPE_URL.cluster, XDS_TYPE_URL.listener]);

const WILDCARD = '*';

/** Bounds on what one stream may ask for. */
export interface AdsLimits {
  /** Resource names one stream may hold subscribed per type (and list in one request). */
  readonly maxResourceNames: number;
  /** Longest resource name, in bytes. */
  readonly maxNameBytes: number;
}

/** The default bounds: generous for a sidecar, small enough that a stream cannot hoard memory. */
export const DEFAULT_ADS_LIMITS: AdsLimits = { maxResourceNames: 10_000, maxNameBytes: 1024 };

/** Where a stream reports what it sent and what the proxy answered (the status registry). */
export interface AdsStatusSink {
  sent(streamId: number, typeUrl: string, version: string): void;
  acked(streamId: number, typeUrl: string, version: string): void;
  /** The proxy already holds exactly what snapshot `version` has for the type: nothing to send. */
  inSync(streamId: number, typeUrl: string, version: string): void;
  nacked(streamId: number, typeUrl: string, version: string, message: string): void;
  configError(streamId: number, reason: string | null): void;
}

interface Inflight {
  readonly nonce: string;
  readonly version: string;
  /** SotW: the full content sent (name → version); delta: the changes (null = removed). */
  readonly content: ReadonlyMap<string, string | null>;
}

interface TypeState {
  readonly typeUrl: XdsTypeUrl;
  wildcard: boolean;
  readonly names: Set<string>;
  lastNonce: string;
  inflight: Inflight | undefined;
  /** SotW: content of the last ACKed and the last NACKed response. */
  acked: ReadonlyMap<string, string | null> | undefined;
  rejected: ReadonlyMap<string, string | null> | undefined;
  /** Delta: the versions the client holds, versions it refused, names reported absent. */
  readonly known: Map<string, string>;
  readonly rejectedVersions: Map<string, string>;
  readonly reportedAbsent: Set<string>;
  /** Delta: the first request of a type is always answered, even with nothing. */
  initialPending: boolean;
}

const EMPTY: ReadonlyMap<string, XdsResource> = new Map();

function isServedType(typeUrl: string): typeUrl is XdsTypeUrl {
  return (PUSH_ORDER as readonly string[]).includes(typeUrl);
}

/**
 * One proxy's ADS stream after authentication: its subscriptions per type, what it was sent and
 * what it ACKed, and the diff against the current snapshot. It writes pre-encoded responses.
 */
export class AdsStream {
  readonly #types = new Map<XdsTypeUrl, TypeState>();
  #snapshot: MeshSnapshot | undefined;
  #resources: ProxyResources | undefined;
  #nonce = 0;
  #scheduled = false;
  #closed = false;

  constructor(
    readonly kind: AdsStreamKind,
    readonly id: number,
    private readonly node: ProxyNode,
    private readonly deps: {
      readonly current: () => MeshSnapshot | undefined;
      readonly status: AdsStatusSink;
      readonly limits: AdsLimits;
      readonly write: (response: Buffer) => void;
      readonly fail: (err: unknown) => void;
    },
  ) {}

  /** Handles a state-of-the-world request: ACK/NACK by nonce, then the new subscription. */
  onSotwRequest(req: DiscoveryRequest): void {
    const st = this.#state(req.type_url);
    this.#checkNames(req.resource_names);
    if (req.response_nonce !== '') {
      // A nonce other than the latest one answers a superseded response: ignored (xDS protocol).
      if (req.response_nonce !== st.lastNonce) return;
      const inflight = st.inflight;
      if (inflight !== undefined) {
        st.inflight = undefined;
        if (req.error_detail !== null) {
          st.rejected = inflight.content;
          this.deps.status.nacked(this.id, st.typeUrl, inflight.version, req.error_detail.message);
        } else {
          st.acked = inflight.content;
          st.rejected = undefined;
          this.deps.status.acked(this.id, st.typeUrl, inflight.version);
        }
      }
    }
    const names = req.resource_names;
    st.wildcard =
      names.includes(WILDCARD) || (names.length === 0 && WILDCARD_TYPES.has(st.typeUrl));
    st.names.clear();
    for (const n of names) if (n !== WILDCARD) st.names.add(n);
    this.schedule();
  }

  /** Handles a delta request: ACK/NACK by nonce, then subscription changes. */
  onDeltaRequest(req: DeltaDiscoveryRequest): void {
    const first = !this.#types.has(req.type_url as XdsTypeUrl);
    const st = this.#state(req.type_url);
    this.#checkNames(req.resource_names_subscribe);
    this.#checkNames(req.resource_names_unsubscribe);
    if (first) {
      const initial = Object.entries(req.initial_resource_versions);
      this.#checkNames(initial.map(([n]) => n));
      for (const [name, version] of initial) st.known.set(name, version);
      st.wildcard = WILDCARD_TYPES.has(st.typeUrl) && req.resource_names_subscribe.length === 0;
      st.initialPending = true;
    }
    if (req.response_nonce !== '' && req.response_nonce === st.lastNonce) {
      const inflight = st.inflight;
      if (inflight !== undefined) {
        st.inflight = undefined;
        const nack = req.error_detail !== null;
        for (const [name, version] of inflight.content) {
          if (version === null) st.known.delete(name);
          else if (nack) st.rejectedVersions.set(name, version);
          else {
            st.known.set(name, version);
            st.rejectedVersions.delete(name);
          }
        }
        if (req.error_detail !== null)
          this.deps.status.nacked(this.id, st.typeUrl, inflight.version, req.error_detail.message);
        else this.deps.status.acked(this.id, st.typeUrl, inflight.version);
      }
    }
    // Subscription changes are deltas: applied even from a request with a stale nonce.
    for (const n of req.resource_names_subscribe) {
      if (n === WILDCARD) st.wildcard = true;
      else st.names.add(n);
    }
    for (const n of req.resource_names_unsubscribe) {
      if (n === WILDCARD) st.wildcard = false;
      else {
        st.names.delete(n);
        st.known.delete(n);
        st.rejectedVersions.delete(n);
        st.reportedAbsent.delete(n);
      }
    }
    if (st.names.size > this.deps.limits.maxResourceNames)
      throw new ParleyError(
        'resource-exhausted',
        `more than ${this.deps.limits.maxResourceNames} subscribed ${st.typeUrl} names`,
      );
    this.schedule();
  }

  /** Asks for a diff against the current snapshot on the next turn of the event loop. */
  schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#closed) return;
      try {
        this.#pump();
      } catch (err) {
        this.deps.fail(err);
      }
    });
  }

  /** Stops all further work (the call ended). */
  close(): void {
    this.#closed = true;
  }

  #state(typeUrl: string): TypeState {
    if (!isServedType(typeUrl))
      throw new ParleyError(
        'invalid-argument',
        `unknown or unserved type_url "${typeUrl.slice(0, 200)}"`,
      );
    let st = this.#types.get(typeUrl);
    if (st === undefined) {
      st = {
        typeUrl,
        wildcard: false,
        names: new Set(),
        lastNonce: '',
        inflight: undefined,
        acked: undefined,
        rejected: undefined,
        known: new Map(),
        rejectedVersions: new Map(),
        reportedAbsent: new Set(),
        initialPending: false,
      };
      this.#types.set(typeUrl, st);
    }
    return st;
  }

  #checkNames(names: readonly string[]): void {
    const { maxResourceNames, maxNameBytes } = this.deps.limits;
    if (names.length > maxResourceNames)
      throw new ParleyError(
        'resource-exhausted',
        `a request lists ${names.length} resource names, more than ${maxResourceNames}`,
      );
    for (const n of names)
      if (Buffer.byteLength(n) > maxNameBytes)
        throw new ParleyError(
          'invalid-argument',
          `a resource name is longer than ${maxNameBytes} bytes`,
        );
  }

  #pump(): void {
    const snapshot = this.deps.current();
    if (snapshot === undefined) return;
    if (snapshot !== this.#snapshot) {
      this.#snapshot = snapshot;
      const result = snapshot.resourcesFor(this.node);
      if (result.ok) {
        this.#resources = result.resources;
        this.deps.status.configError(this.id, null);
      } else {
        // The proxy keeps what it has; nothing is sent until a snapshot has its configuration.
        this.#resources = undefined;
        this.deps.status.configError(this.id, result.reason);
      }
    }
    const resources = this.#resources;
    if (resources === undefined) return;
    for (const typeUrl of PUSH_ORDER) {
      const st = this.#types.get(typeUrl);
      if (st === undefined) continue;
      if (st.inflight !== undefined) return;
      const all = resources.get(typeUrl) ?? EMPTY;
      const sent =
        this.kind === 'sotw'
          ? this.#sendSotw(st, all, snapshot.version)
          : this.#sendDelta(st, all, snapshot.version);
      if (sent) return;
    }
  }

  #nextNonce(): string {
    this.#nonce += 1;
    return String(this.#nonce);
  }

  #sendSotw(st: TypeState, all: ReadonlyMap<string, XdsResource>, version: string): boolean {
    const desired: XdsResource[] = [];
    if (st.wildcard) desired.push(...all.values());
    else
      for (const name of st.names) {
        const r = all.get(name);
        if (r !== undefined) desired.push(r);
      }
    if (sameContent(desired, st.acked)) {
      this.deps.status.inSync(this.id, st.typeUrl, version);
      return false;
    }
    if (sameContent(desired, st.rejected)) return false;
    const nonce = this.#nextNonce();
    this.deps.write(
      encodeDiscoveryResponse({
        versionInfo: version,
        resources: desired,
        typeUrl: st.typeUrl,
        nonce,
      }),
    );
    st.inflight = { nonce, version, content: new Map(desired.map((r) => [r.name, r.version])) };
    st.lastNonce = nonce;
    this.deps.status.sent(this.id, st.typeUrl, version);
    return true;
  }

  #sendDelta(st: TypeState, all: ReadonlyMap<string, XdsResource>, version: string): boolean {
    const updates: XdsResource[] = [];
    const removed: string[] = [];
    const changes = new Map<string, string | null>();
    const consider = (r: XdsResource) => {
      if (st.known.get(r.name) === r.version || st.rejectedVersions.get(r.name) === r.version)
        return;
      updates.push(r);
      changes.set(r.name, r.version);
      st.reportedAbsent.delete(r.name);
    };
    if (st.wildcard) for (const r of all.values()) consider(r);
    for (const name of st.names) {
      const r = all.get(name);
      if (r !== undefined) {
        if (!st.wildcard) consider(r);
      } else if (!st.known.has(name) && !st.reportedAbsent.has(name)) {
        // A subscribed name that does not exist is reported once as removed (delta xDS).
        removed.push(name);
        st.reportedAbsent.add(name);
      }
    }
    for (const name of st.known.keys()) {
      if (all.has(name) || !(st.wildcard || st.names.has(name))) continue;
      removed.push(name);
      changes.set(name, null);
      st.reportedAbsent.add(name);
    }
    if (updates.length === 0 && removed.length === 0 && !st.initialPending) {
      if (st.rejectedVersions.size === 0) this.deps.status.inSync(this.id, st.typeUrl, version);
      return false;
    }
    st.initialPending = false;
    const nonce = this.#nextNonce();
    this.deps.write(
      encodeDeltaDiscoveryResponse({
        systemVersionInfo: version,
        resources: updates,
        removedResources: removed,
        typeUrl: st.typeUrl,
        nonce,
      }),
    );
    st.inflight = { nonce, version, content: changes };
    st.lastNonce = nonce;
    this.deps.status.sent(this.id, st.typeUrl, version);
    return true;
  }
}

function sameContent(
  desired: readonly XdsResource[],
  content: ReadonlyMap<string, string | null> | undefined,
): boolean {
  if (content === undefined || content.size !== desired.length) return false;
  for (const r of desired) if (content.get(r.name) !== r.version) return false;
  return true;
}

import type { Clock } from '@parley/core';
import type { AdsStreamKind, NodeSummary, ProxyStatus, TypeStatus } from './mesh-status.js';

/** Longest NACK message kept (Envoy's error details can quote whole resources). */
export const MAX_NACK_MESSAGE_CHARS = 1024;

interface MutableProxy {
  streamId: number;
  spiffeId: string;
  node: NodeSummary;
  kind: AdsStreamKind;
  connectedSince: number;
  types: Map<
    string,
    {
      lastSentVersion: string | null;
      lastAckedVersion: string | null;
      inSyncWith: string | null;
      lastNack: TypeStatus['lastNack'];
    }
  >;
  configError: string | null;
}

/** The registry of connected proxies the ADS server reports to, read by `meshStatus()`. */
export class ProxyStatusRegistry {
  readonly #clock: Clock;
  readonly #proxies = new Map<number, MutableProxy>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Records a new authenticated stream. */
  connected(stream: {
    readonly streamId: number;
    readonly spiffeId: string;
    readonly node: NodeSummary;
    readonly kind: AdsStreamKind;
  }): void {
    this.#proxies.set(stream.streamId, {
      ...stream,
      connectedSince: this.#clock.now(),
      types: new Map(),
      configError: null,
    });
  }

  /** Records a response sent at `version`. */
  sent(streamId: number, typeUrl: string, version: string): void {
    const t = this.#type(streamId, typeUrl);
    if (t !== undefined) t.lastSentVersion = version;
  }

  /** Records an ACK of `version`. */
  acked(streamId: number, typeUrl: string, version: string): void {
    const t = this.#type(streamId, typeUrl);
    if (t !== undefined) {
      t.lastAckedVersion = version;
      t.inSyncWith = version;
    }
  }

  /** Records that the proxy holds, for this type, exactly what snapshot `version` has. */
  inSync(streamId: number, typeUrl: string, version: string): void {
    const t = this.#type(streamId, typeUrl);
    if (t !== undefined) t.inSyncWith = version;
  }

  /** Records a NACK of `version` with the proxy's error message. */
  nacked(streamId: number, typeUrl: string, version: string, message: string): void {
    const t = this.#type(streamId, typeUrl);
    if (t !== undefined)
      t.lastNack = {
        version,
        message: message.slice(0, MAX_NACK_MESSAGE_CHARS),
        at: this.#clock.now(),
      };
  }

  /** Records why the current snapshot has no configuration for the proxy (null: it has one). */
  configError(streamId: number, reason: string | null): void {
    const p = this.#proxies.get(streamId);
    if (p !== undefined) p.configError = reason;
  }

  /** Forgets a closed stream. */
  disconnected(streamId: number): void {
    this.#proxies.delete(streamId);
  }

  /** A copy of every connected proxy's status. */
  proxies(): ProxyStatus[] {
    return [...this.#proxies.values()].map((p) => ({
      streamId: p.streamId,
      spiffeId: p.spiffeId,
      node: p.node,
      kind: p.kind,
      connectedSince: p.connectedSince,
      types: Object.fromEntries([...p.types].map(([url, t]) => [url, { ...t }])),
      configError: p.configError,
    }));
  }

  #type(streamId: number, typeUrl: string) {
    const p = this.#proxies.get(streamId);
    if (p === undefined) return undefined;
    let t = p.types.get(typeUrl);
    if (t === undefined) {
      t = { lastSentVersion: null, lastAckedVersion: null, inSyncWith: null, lastNack: null };
      p.types.set(typeUrl, t);
    }
    return t;
  }
}

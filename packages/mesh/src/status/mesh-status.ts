/** How a proxy's ADS stream speaks xDS. */
export type AdsStreamKind = 'sotw' | 'delta';

/** What a proxy said about itself in `node` (never trusted for authorization: the SVID is). */
export interface NodeSummary {
  readonly cluster: string;
  readonly userAgent: string;
  /** The keys of `node.metadata`, sorted (values can be large or sensitive). */
  readonly metadataKeys: readonly string[];
}

/** A rejected response: the version the proxy refused and its reason. */
export interface NackStatus {
  readonly version: string;
  readonly message: string;
  readonly at: number;
}

/** One resource type of one proxy: what was sent, what it accepted, what it refused last. */
export interface TypeStatus {
  readonly lastSentVersion: string | null;
  readonly lastAckedVersion: string | null;
  /**
   * The latest snapshot version whose content the proxy holds for this type: the version it
   * ACKed, or a later one that changed nothing of this type (so nothing was resent).
   */
  readonly inSyncWith: string | null;
  readonly lastNack: NackStatus | null;
}

/** One connected proxy (one ADS stream). */
export interface ProxyStatus {
  readonly streamId: number;
  readonly spiffeId: string;
  readonly node: NodeSummary;
  readonly kind: AdsStreamKind;
  readonly connectedSince: number;
  /** By type URL. */
  readonly types: Readonly<Record<string, TypeStatus>>;
  /** Why the current snapshot has no configuration for this proxy, if it has none. */
  readonly configError: string | null;
}

/** A config problem as the controller records it (file:line and field path). */
export interface ConfigProblem {
  readonly file: string;
  readonly line: number;
  readonly path: string;
  readonly message: string;
}

/** The mesh controller's state: the snapshot served, the last commit refused, source health. */
export interface ControllerStatus {
  readonly current: {
    readonly version: string;
    readonly commit: string;
    readonly appliedAt: number;
  } | null;
  readonly lastRejected: {
    readonly commit: string;
    readonly problems: readonly ConfigProblem[];
    readonly at: number;
  } | null;
  readonly sourceError: { readonly message: string; readonly at: number } | null;
}

/** What `parley mesh status`, the admin API and the dashboard show about the mesh. */
export interface MeshStatus {
  readonly version: string | null;
  readonly commit: string | null;
  readonly controller: ControllerStatus;
  readonly proxies: readonly ProxyStatus[];
  readonly counts: {
    readonly proxies: number;
    /** Proxies whose every sent type is ACKed at the current snapshot version. */
    readonly upToDate: number;
    /** Proxies with a NACK as their last word on some type. */
    readonly nacking: number;
  };
}

/** Assembles the mesh status value from the controller's state and the connected proxies. */
export function meshStatus(input: {
  readonly controller: ControllerStatus;
  readonly proxies: readonly ProxyStatus[];
}): MeshStatus {
  const version = input.controller.current?.version ?? null;
  const proxies = [...input.proxies].sort(
    (a, b) => a.spiffeId.localeCompare(b.spiffeId) || a.streamId - b.streamId,
  );
  const types = (p: ProxyStatus) => Object.values(p.types);
  return {
    version,
    commit: input.controller.current?.commit ?? null,
    controller: input.controller,
    proxies,
    counts: {
      proxies: proxies.length,
      upToDate: proxies.filter(
        (p) =>
          version !== null &&
          p.configError === null &&
          types(p).every((t) => t.lastSentVersion === null || t.inSyncWith === version),
      ).length,
      nacking: proxies.filter((p) =>
        types(p).some((t) => t.lastNack !== null && t.lastAckedVersion !== t.lastSentVersion),
      ).length,
    },
  };
}

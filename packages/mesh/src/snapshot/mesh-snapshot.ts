import type { EncodedAny, XdsTypeUrl } from '@parley/api';

/** One encoded Envoy resource and its content version (a hash of its encoding). */
export interface XdsResource {
  readonly name: string;
  readonly version: string;
  readonly resource: EncodedAny;
}

/** What identifies a proxy to the compiler: its SPIFFE ID (`node.id`) and its node metadata. */
export interface ProxyNode {
  /** The proxy's SPIFFE ID, authenticated by the ADS server before the snapshot is asked. */
  readonly id: string;
  /** `node.metadata` as plain JSON (e.g. which instance of its service the proxy fronts). */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** Every resource one proxy receives, by type URL, then by resource name. */
export type ProxyResources = ReadonlyMap<XdsTypeUrl, ReadonlyMap<string, XdsResource>>;

/**
 * An immutable compiled mesh: one commit of the config repo plus the registered endpoints.
 * Resources are shared between proxies wherever they are identical (clusters, endpoints, routes),
 * so a snapshot for thousands of proxies costs little more than one for a single proxy.
 */
export interface MeshSnapshot {
  /** The version sent as `version_info`: the commit SHA, plus an endpoint generation if any. */
  readonly version: string;
  /** The commit SHA of the config the snapshot was compiled from. */
  readonly commit: string;
  /** The resources of one proxy, or a reason it gets none (unknown identity, bad metadata). */
  resourcesFor(
    node: ProxyNode,
  ):
    | { readonly ok: true; readonly resources: ProxyResources }
    | { readonly ok: false; readonly reason: string };
}

/** Names shared by the compiler, `parley proxy bootstrap` and the agent's SDS. */
export const MESH_NAMES = {
  /** Static bootstrap cluster: the local agent's SDS over its Unix socket (HTTP/2). */
  sdsCluster: 'parley_agent',
  /** Static bootstrap cluster: the server's ADS over mTLS. */
  xdsCluster: 'parley_xds',
  /** SDS name of the caller's own SVID (DESIGN §3). */
  ownCertificate: 'default',
  /** SDS name of the validation context for the caller's own trust domain (DESIGN §3). */
  ownTrustDomain: 'ROOTCA',
  /** SDS name of the validation context for the own and all federated trust domains. */
  allTrustDomains: 'ALL',
} as const;

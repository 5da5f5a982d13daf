import type {
  AuthzJwtIssuer,
  AuthzRole,
  AuthzRule,
  AuthzSelector,
  SecretPolicy,
  TokenPolicy,
} from '@parley/api';
import type { Duration, SpiffeId } from '@parley/core';

/** Plain data from YAML (no dates, no binary), for sections carried but not yet interpreted. */
export type PlainData =
  null | boolean | number | string | readonly PlainData[] | { readonly [key: string]: PlainData };

/** The API version of every mesh config document. */
export const MESH_API_VERSION = 'parley.dev/v1';

/** The document kinds of the mesh config (DESIGN §5). */
export const MESH_KINDS = [
  'Service',
  'Route',
  'TrafficPolicy',
  'AuthorizationPolicy',
  'SecretPolicy',
  'TokenPolicy',
] as const;

/** One kind of mesh config document. */
export type MeshKind = (typeof MESH_KINDS)[number];

/** Where a document came from, for messages that point at it. */
export interface SourceRef {
  readonly file: string;
  /** 1-based line of the document's `kind`. */
  readonly line: number;
}

/** `metadata` of every document. */
export interface Metadata {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** A host and port: an IP literal (IPv4 or IPv6 without brackets) and 1–65535. */
export interface SocketAddress {
  readonly host: string;
  readonly port: number;
}

/** The protocol of a service port. */
export type PortProtocol = 'http' | 'http2' | 'grpc' | 'tcp';

/** A port callers address a service by (`Host: name:port`). */
export interface ServicePort {
  readonly name: string;
  readonly port: number;
  readonly protocol: PortProtocol;
}

/** Where an endpoint runs, for locality-aware load balancing and failover. */
export interface Locality {
  readonly region: string;
  readonly zone: string;
}

/**
 * One instance of a service, fronted by its own Envoy sidecar: where that sidecar's inbound mTLS
 * listener listens (what other sidecars connect to), where the app listens (loopback, what the
 * sidecar forwards to), and where the sidecar's outbound listener for its app listens.
 */
export interface Endpoint {
  /** Unique within the service; the proxy's `node.metadata.instance`. */
  readonly name: string;
  readonly inbound: SocketAddress;
  readonly app: SocketAddress;
  /** The outbound listener of this instance's sidecar; default 127.0.0.1:`sidecar.outboundPort`. */
  readonly outbound?: SocketAddress;
  readonly locality?: Locality;
  /** Relative load-balancing weight, 1–1000 (default 1). */
  readonly weight: number;
}

/** Attributes carried for attribute-based authorization (a later issue). */
export interface ServiceAttributes {
  readonly environment?: string;
  readonly team?: string;
  readonly sensitivity?: string;
}

/** How the sidecars of a service are set up. */
export interface SidecarSettings {
  /** Port of the outbound listener on 127.0.0.1 (default 15001). */
  readonly outboundPort: number;
  /** Services this sidecar can call; undefined = every service of the mesh. */
  readonly outbound?: readonly string[];
  /**
   * The service a request goes to when its Host names none (an edge proxy in front of a web
   * front-end, reached as `http://127.0.0.1:8080/`): a catch-all virtual host with its routes.
   */
  readonly defaultDestination?: string;
}

/** A `Service`: an identity, its ports and its instances. */
export interface Service {
  readonly kind: 'Service';
  readonly source: SourceRef;
  readonly metadata: Metadata;
  readonly spiffeId: SpiffeId;
  readonly ports: readonly ServicePort[];
  readonly endpoints: readonly Endpoint[];
  readonly attributes: ServiceAttributes;
  readonly sidecar: SidecarSettings;
}

/** How a string is matched. */
export type StringMatch =
  { readonly exact: string } | { readonly prefix: string } | { readonly regex: string };

/** A request header condition. */
export type HeaderMatch = { readonly name: string } & (StringMatch | { readonly present: boolean });

/** The conditions of a route rule, all of which must hold (absent = match every request). */
export interface RouteMatch {
  readonly path?: StringMatch;
  readonly headers: readonly HeaderMatch[];
  readonly method?: string;
}

/** A weighted destination of a rule. */
export interface RouteDestination {
  readonly service: string;
  readonly weight: number;
}

/** Retry policy of a rule. */
export interface RetryPolicy {
  readonly attempts: number;
  readonly retryOn: readonly string[];
  readonly perTryTimeout?: Duration;
}

/** Fault injection of a rule (applied by the caller's sidecar). */
export interface FaultInjection {
  readonly delay?: { readonly fixedDelay: Duration; readonly percentage: number };
  readonly abort?: { readonly httpStatus: number; readonly percentage: number };
}

/** Traffic mirroring of a rule. */
export interface MirrorPolicy {
  readonly service: string;
  readonly percentage: number;
}

/** Header changes of a request or response. */
export interface HeaderMutation {
  readonly add: readonly {
    readonly name: string;
    readonly value: string;
    readonly append: boolean;
  }[];
  readonly remove: readonly string[];
}

/** One ordered rule of a Route. */
export interface RouteRule {
  readonly name: string;
  readonly match: RouteMatch;
  readonly destinations: readonly RouteDestination[];
  readonly timeout?: Duration;
  readonly retries?: RetryPolicy;
  readonly fault?: FaultInjection;
  readonly mirror?: MirrorPolicy;
  readonly requestHeaders: HeaderMutation;
  readonly responseHeaders: HeaderMutation;
  readonly rewrite?: { readonly prefix?: string; readonly host?: string };
}

/** A `Route`: the ordered rules for requests to one service (its `host`). */
export interface Route {
  readonly kind: 'Route';
  readonly source: SourceRef;
  readonly metadata: Metadata;
  readonly host: string;
  readonly rules: readonly RouteRule[];
  /** What the caller's sidecar adds to every request of this route (docs/mesh-config.md). */
  readonly egress?: RouteEgress;
}

/**
 * Egress injection: the caller's sidecar obtains a token for the destination's audience and
 * sends it as `Authorization: Bearer`, replacing whatever the app sent; the app never handles it.
 */
export interface RouteEgress {
  readonly token: {
    /** The token's audience (the destination as its validator names itself). */
    readonly audience: string;
    /**
     * Where the sidecar gets it, through the node's agent: a JWT-SVID of its own identity, or an
     * access token from Parley's token endpoint (client credentials with its X509-SVID).
     */
    readonly source: 'jwt-svid' | 'oauth';
    /** `oauth`: the scopes asked for. */
    readonly scopes: readonly string[];
  };
}

/** A load-balancing algorithm. */
export type LoadBalancerPolicy = 'roundRobin' | 'leastRequest' | 'random' | 'ringHash';

/** A `TrafficPolicy`: how callers balance, limit and eject the endpoints of one service. */
export interface TrafficPolicy {
  readonly kind: 'TrafficPolicy';
  readonly source: SourceRef;
  readonly metadata: Metadata;
  readonly host: string;
  readonly loadBalancer: {
    readonly policy: LoadBalancerPolicy;
    /** Ring hash: the request header hashed, and the minimum ring size. */
    readonly ringHash?: { readonly header: string; readonly minimumRingSize: number };
    readonly localityWeighted: boolean;
    /** Failover order: endpoints of the first matching entry get priority 0, and so on. */
    readonly failover: readonly { readonly region: string; readonly zone?: string }[];
  };
  readonly connectionPool?: {
    readonly maxConnections?: number;
    readonly maxPendingRequests?: number;
    readonly maxRequests?: number;
    readonly maxRetries?: number;
  };
  readonly outlierDetection?: {
    readonly consecutive5xx: number;
    readonly interval: Duration;
    readonly baseEjectionTime: Duration;
    readonly maxEjectionPercent: number;
  };
}

export type {
  AuthzStringPattern,
  AuthzPathPattern,
  AuthzHostPattern,
  AuthzCidr,
  AuthzAttributeName,
  AuthzExpression,
  AuthzCondition,
  AuthzSource,
  AuthzOperation,
  AuthzRule,
  AuthzRole,
  AuthzSelector,
} from '@parley/api';

/**
 * An `AuthorizationPolicy` (docs/authz.md): a policy (selector, action, rules, dryRun), or the
 * mesh settings document (`defaultAction`, `roles`, `jwtIssuers`), which takes no part in matching.
 */
export interface AuthorizationPolicy {
  readonly kind: 'AuthorizationPolicy';
  readonly source: SourceRef;
  readonly metadata: Metadata;
  /** Absent: every workload of the mesh. */
  readonly selector?: AuthzSelector;
  readonly action: 'ALLOW' | 'DENY' | 'AUDIT';
  readonly rules: readonly AuthzRule[];
  readonly dryRun: boolean;
  /** Decided by Parley's ext_authz service even where Envoy's RBAC filter could express it. */
  readonly external: boolean;
  readonly defaultAction?: 'ALLOW' | 'DENY';
  readonly roles: readonly AuthzRole[];
  /** End-user token issuers (only on the mesh settings document). */
  readonly jwtIssuers: readonly AuthzJwtIssuer[];
}

/** A `SecretPolicy` (docs/secrets.md): who may read, write, list or delete which secrets. */
export interface SecretPolicyDocument {
  readonly kind: 'SecretPolicy';
  readonly source: SourceRef;
  readonly metadata: Metadata;
  readonly policy: SecretPolicy;
}

/** A `TokenPolicy` (docs/tokens.md): who may obtain tokens for which audiences and scopes. */
export interface TokenPolicyDocument {
  readonly kind: 'TokenPolicy';
  readonly source: SourceRef;
  readonly metadata: Metadata;
  readonly policy: TokenPolicy;
}

/** A validated mesh config: every document, by kind, sorted by name. */
export interface MeshConfig {
  readonly services: readonly Service[];
  readonly routes: readonly Route[];
  readonly trafficPolicies: readonly TrafficPolicy[];
  readonly authorizationPolicies: readonly AuthorizationPolicy[];
  readonly secretPolicies: readonly SecretPolicyDocument[];
  readonly tokenPolicies: readonly TokenPolicyDocument[];
}

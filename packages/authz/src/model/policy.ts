// The policy model as the evaluator consumes it; the cli composes the mesh parser and the evaluator.
import type {
  AuthzAttributeName,
  AuthzJwtIssuer,
  AuthzPathPattern,
  AuthzRole as Role,
  AuthzRule as Rule,
  AuthzSelector as Selector,
} from '@parley/api';

// One definition of the policy model lives in @parley/api (the mesh parser produces it); the
// evaluator uses these shorter names.
export type {
  AuthzStringPattern as StringPattern,
  AuthzPathPattern as PathPattern,
  AuthzHostPattern as HostPattern,
  AuthzCidr as Cidr,
  AuthzAttributeName as AttributeName,
  AuthzExpression as Expression,
  AuthzCondition as Condition,
  AuthzSource as Source,
  AuthzOperation as Operation,
  AuthzRule as Rule,
  AuthzRole as Role,
  AuthzSelector as Selector,
} from '@parley/api';

/** One segment of a path template: a literal, `{*}` (one segment) or `{**}` (any segments). */
export type TemplateSegment = Extract<AuthzPathPattern, { kind: 'template' }>['segments'][number];

/** The attributes of a workload, by name. */
export type Attributes = Readonly<Partial<Record<AuthzAttributeName, string>>>;

/** A policy action (Istio's). */
export type PolicyAction = 'ALLOW' | 'DENY' | 'AUDIT';

/** What the mesh does for a workload that no ALLOW policy applies to. */
export type DefaultAction = 'ALLOW' | 'DENY';

/** One AuthorizationPolicy document as the mesh model carries it. */
export interface PolicyDocument {
  readonly metadata: { readonly name: string };
  readonly selector?: Selector;
  readonly action: PolicyAction;
  readonly rules: readonly Rule[];
  readonly dryRun: boolean;
  /** Decided by the ext_authz service even where Envoy's RBAC filter could express it. */
  readonly external?: boolean;
  /** Only on the mesh settings policy. */
  readonly defaultAction?: DefaultAction;
  /** Mesh-wide role definitions (only on settings policies). */
  readonly roles: readonly Role[];
  /** End-user JWT issuers (only on settings policies; enforced by Envoy's JWT filter). */
  readonly jwtIssuers?: readonly AuthzJwtIssuer[];
}

/** A policy the evaluator applies. */
export interface Policy {
  readonly name: string;
  readonly selector?: Selector;
  readonly action: PolicyAction;
  readonly rules: readonly Rule[];
  readonly dryRun: boolean;
  /** Decided by the ext_authz service even where Envoy's RBAC filter could express it. */
  readonly external: boolean;
}

/** Everything the evaluator decides with: the mesh default, the roles and the policies. */
export interface PolicySet {
  readonly defaultAction: DefaultAction;
  readonly roles: ReadonlyMap<string, Role>;
  readonly policies: readonly Policy[];
}

/** The request attributes of one decision, as the sidecar (Envoy) forwarded them. */
export interface AuthzRequest {
  readonly source: {
    /** The SPIFFE ID of the verified peer certificate; absent for an unauthenticated caller. */
    readonly principal?: string;
    /** The caller's IP address (no port). */
    readonly address?: string;
    /** The caller's Service, resolved by the composer from the principal. */
    readonly service?: string;
    readonly attributes?: Attributes;
  };
  readonly destination: {
    readonly service?: string;
    readonly principal: string;
    readonly port: number;
    readonly attributes?: Attributes;
  };
  readonly request: {
    readonly method: string;
    /** The `Host`/`:authority` header as received. */
    readonly host: string;
    /** The `:path` as Envoy forwards it (query and fragment included, not yet normalized). */
    readonly path: string;
    /** Header names lower-case; a repeated header has several values. */
    readonly headers: Readonly<Record<string, string | readonly string[]>>;
    /** Claims of the end-user JWT that the JWT filter verified, when there is one. */
    readonly auth?: { readonly claims: Readonly<Record<string, unknown>> };
  };
  readonly time: Date;
}

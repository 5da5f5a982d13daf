// The policy model as the evaluator consumes it (STYLE rule 5: the consumer owns its input types).
// The mesh config parser produces plain data of exactly this shape; the cli composes the two.

/** A parsed string pattern: `*`, exact, `prefix*` or `*suffix`; `text` is how it was written. */
export type StringPattern =
  | { readonly kind: 'any'; readonly text: string }
  | { readonly kind: 'exact'; readonly value: string; readonly text: string }
  | { readonly kind: 'prefix'; readonly value: string; readonly text: string }
  | { readonly kind: 'suffix'; readonly value: string; readonly text: string };

/** One segment of a path template: a literal, `{*}` (one segment) or `{**}` (any segments). */
export type TemplateSegment = string | { readonly wildcard: '*' | '**' };

/** A parsed path pattern: a string pattern or a template such as `/api/{*}/items/{**}`. */
export type PathPattern =
  | StringPattern
  | {
      readonly kind: 'template';
      readonly segments: readonly TemplateSegment[];
      readonly text: string;
    };

/** A parsed host pattern: a name pattern (lower-case) and, optionally, a port. */
export interface HostPattern {
  readonly name: StringPattern;
  readonly port?: number;
  readonly text: string;
}

/** An IP network: address bytes (4 or 16) and prefix length. */
export interface Cidr {
  readonly bytes: readonly number[];
  readonly prefixLength: number;
  readonly text: string;
}

/** The attributes a Service declares for attribute-based rules. */
export type AttributeName = 'environment' | 'team' | 'sensitivity';

/** The attributes of a workload, by name. */
export type Attributes = Readonly<Partial<Record<AttributeName, string>>>;

/** A parsed expression of the supported CEL subset (see docs/authz.md). */
export type Expression =
  | { readonly op: 'literal'; readonly value: string | number | boolean }
  | { readonly op: 'list'; readonly items: readonly Expression[] }
  | { readonly op: 'attribute'; readonly path: readonly string[] }
  | { readonly op: 'not'; readonly arg: Expression }
  | {
      readonly op: 'and' | 'or' | '==' | '!=' | 'in';
      readonly left: Expression;
      readonly right: Expression;
    }
  | {
      readonly op: 'startsWith' | 'endsWith';
      readonly target: Expression;
      readonly arg: Expression;
    };

/** A `when` condition of a rule. */
export type Condition =
  | {
      readonly kind: 'header';
      readonly name: string;
      readonly values: readonly StringPattern[];
      readonly notValues: readonly StringPattern[];
    }
  | {
      readonly kind: 'claim';
      readonly path: readonly string[];
      readonly values: readonly StringPattern[];
      readonly notValues: readonly StringPattern[];
    }
  | {
      readonly kind: 'sourceIp';
      readonly values: readonly Cidr[];
      readonly notValues: readonly Cidr[];
    }
  | {
      readonly kind: 'attribute';
      readonly of: 'source' | 'destination';
      readonly name: AttributeName;
      readonly values: readonly string[];
      readonly notValues: readonly string[];
    }
  | {
      readonly kind: 'time';
      /** Days of the week (0 = Sunday … 6 = Saturday), UTC. */
      readonly days: readonly number[];
      /** Minutes after midnight UTC; the window is [start, end), wrapping midnight when end ≤ start. */
      readonly start: number;
      readonly end: number;
    }
  | { readonly kind: 'expression'; readonly text: string; readonly expression: Expression };

/** `from`: who the caller is; every field given must hold. Only authenticated callers match. */
export interface Source {
  readonly principals: readonly StringPattern[];
  readonly notPrincipals: readonly StringPattern[];
  readonly trustDomains: readonly string[];
  readonly notTrustDomains: readonly string[];
}

/** `to`: what the request does; every field given must hold. */
export interface Operation {
  readonly hosts: readonly HostPattern[];
  readonly notHosts: readonly HostPattern[];
  readonly methods: readonly string[];
  readonly notMethods: readonly string[];
  readonly paths: readonly PathPattern[];
  readonly notPaths: readonly PathPattern[];
  readonly ports: readonly number[];
  readonly notPorts: readonly number[];
  /** Match paths case-insensitively (for applications that treat `/ADMIN` as `/admin`). */
  readonly ignoreCase: boolean;
}

/** One rule: it matches when any `from`, any `to`, any role and every `when` hold (empty = any). */
export interface Rule {
  readonly name: string;
  readonly from: readonly Source[];
  readonly to: readonly Operation[];
  readonly roles: readonly string[];
  readonly when: readonly Condition[];
}

/** A role: the callers bound to it (SPIFFE ID patterns) and the operations granted to it. */
export interface Role {
  readonly name: string;
  readonly principals: readonly StringPattern[];
  readonly permissions: readonly Operation[];
}

/** Which workloads a policy applies to (either list may match); absent = every workload. */
export interface Selector {
  readonly services: readonly string[];
  readonly spiffeIds: readonly StringPattern[];
}

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
  /** Only on the mesh settings policy. */
  readonly defaultAction?: DefaultAction;
  /** Mesh-wide role definitions (only on settings policies). */
  readonly roles: readonly Role[];
}

/** A policy the evaluator applies. */
export interface Policy {
  readonly name: string;
  readonly selector?: Selector;
  readonly action: PolicyAction;
  readonly rules: readonly Rule[];
  readonly dryRun: boolean;
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

// The AuthorizationPolicy model shared by the mesh config parser (which produces it) and the
// authz evaluator (which consumes it): plain data, so neither service imports the other.

/** An authorization string pattern: `*`, exact, `prefix*` or `*suffix` (`text` as written). */
export type AuthzStringPattern =
  | { readonly kind: 'any'; readonly text: string }
  | { readonly kind: 'exact'; readonly value: string; readonly text: string }
  | { readonly kind: 'prefix'; readonly value: string; readonly text: string }
  | { readonly kind: 'suffix'; readonly value: string; readonly text: string };

/** An authorization path pattern: a string pattern or a `{*}`/`{**}` template. */
export type AuthzPathPattern =
  | AuthzStringPattern
  | {
      readonly kind: 'template';
      readonly segments: readonly (string | { readonly wildcard: '*' | '**' })[];
      readonly text: string;
    };

/** An authorization host pattern: a lower-case name pattern and an optional port. */
export interface AuthzHostPattern {
  readonly name: AuthzStringPattern;
  readonly port?: number;
  readonly text: string;
}

/** An IP network of a `source.ip` condition: address bytes (4 or 16) and prefix length. */
export interface AuthzCidr {
  readonly bytes: readonly number[];
  readonly prefixLength: number;
  readonly text: string;
}

/** The Service attributes usable in authorization conditions. */
export type AuthzAttributeName = 'environment' | 'team' | 'sensitivity';

/** A parsed expression of the CEL subset of `when[].expression` (docs/authz.md). */
export type AuthzExpression =
  | { readonly op: 'literal'; readonly value: string | number | boolean }
  | { readonly op: 'list'; readonly items: readonly AuthzExpression[] }
  | { readonly op: 'attribute'; readonly path: readonly string[] }
  | { readonly op: 'not'; readonly arg: AuthzExpression }
  | {
      readonly op: 'and' | 'or' | '==' | '!=' | 'in';
      readonly left: AuthzExpression;
      readonly right: AuthzExpression;
    }
  | {
      readonly op: 'startsWith' | 'endsWith';
      readonly target: AuthzExpression;
      readonly arg: AuthzExpression;
    };

/** A `when` condition of an authorization rule. */
export type AuthzCondition =
  | {
      readonly kind: 'header';
      readonly name: string;
      readonly values: readonly AuthzStringPattern[];
      readonly notValues: readonly AuthzStringPattern[];
    }
  | {
      readonly kind: 'claim';
      readonly path: readonly string[];
      readonly values: readonly AuthzStringPattern[];
      readonly notValues: readonly AuthzStringPattern[];
    }
  | {
      readonly kind: 'sourceIp';
      readonly values: readonly AuthzCidr[];
      readonly notValues: readonly AuthzCidr[];
    }
  | {
      readonly kind: 'attribute';
      readonly of: 'source' | 'destination';
      readonly name: AuthzAttributeName;
      readonly values: readonly string[];
      readonly notValues: readonly string[];
    }
  | {
      readonly kind: 'time';
      /** 0 = Sunday … 6 = Saturday (UTC). */
      readonly days: readonly number[];
      /** Minutes after midnight UTC; [start, end), wrapping midnight when end ≤ start. */
      readonly start: number;
      readonly end: number;
    }
  | { readonly kind: 'expression'; readonly text: string; readonly expression: AuthzExpression };

/** `from` of an authorization rule: who the caller is. */
export interface AuthzSource {
  readonly principals: readonly AuthzStringPattern[];
  readonly notPrincipals: readonly AuthzStringPattern[];
  readonly trustDomains: readonly string[];
  readonly notTrustDomains: readonly string[];
}

/** `to` of an authorization rule (and a role's permission): what the request does. */
export interface AuthzOperation {
  readonly hosts: readonly AuthzHostPattern[];
  readonly notHosts: readonly AuthzHostPattern[];
  readonly methods: readonly string[];
  readonly notMethods: readonly string[];
  readonly paths: readonly AuthzPathPattern[];
  readonly notPaths: readonly AuthzPathPattern[];
  readonly ports: readonly number[];
  readonly notPorts: readonly number[];
  readonly ignoreCase: boolean;
}

/** One rule of an AuthorizationPolicy. */
export interface AuthzRule {
  readonly name: string;
  readonly from: readonly AuthzSource[];
  readonly to: readonly AuthzOperation[];
  readonly roles: readonly string[];
  readonly when: readonly AuthzCondition[];
}

/** A role: callers bound to it by SPIFFE ID pattern, and the operations granted to it. */
export interface AuthzRole {
  readonly name: string;
  readonly principals: readonly AuthzStringPattern[];
  readonly permissions: readonly AuthzOperation[];
}

/** The workloads an AuthorizationPolicy applies to (by Service name or SPIFFE ID pattern). */
export interface AuthzSelector {
  readonly services: readonly string[];
  readonly spiffeIds: readonly AuthzStringPattern[];
}

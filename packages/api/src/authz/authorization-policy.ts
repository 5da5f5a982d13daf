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

/** A JWS algorithm an end-user token may be signed with (RFC 7518 §3, RFC 8037 §3.1). */
export type AuthzJwsAlgorithm =
  'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'EdDSA';

/**
 * A public key of an end-user token issuer (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2): public
 * members only, as read from the mesh config; `alg`, when given, fits the key.
 */
export type AuthzJwk = { readonly kid?: string; readonly alg?: AuthzJwsAlgorithm } & (
  | { readonly kty: 'EC'; readonly crv: 'P-256' | 'P-384'; readonly x: string; readonly y: string }
  | { readonly kty: 'RSA'; readonly n: string; readonly e: string }
  | { readonly kty: 'OKP'; readonly crv: 'Ed25519'; readonly x: string }
);

/** Where an issuer's keys come from: inline in the config, or fetched from a URI by Envoy. */
export type AuthzJwksSource =
  | { readonly kind: 'inline'; readonly keys: readonly AuthzJwk[] }
  | { readonly kind: 'remote'; readonly uri: string };

/** A request header an end-user token is read from: its name and the prefix before the token. */
export interface AuthzJwtHeader {
  /** Lower-case header name. */
  readonly name: string;
  /** Text before the token (e.g. `Bearer `); may be empty. */
  readonly prefix: string;
}

/** An issuer of end-user tokens (JWTs) that Envoy's JWT filter verifies (docs/authz.md). */
export interface AuthzJwtIssuer {
  /** The exact `iss` of its tokens. */
  readonly issuer: string;
  /** A token's `aud` must contain one of these; empty: `aud` is not checked. */
  readonly audiences: readonly string[];
  readonly jwks: AuthzJwksSource;
  /** Where tokens are read from, in order (default `authorization` with prefix `Bearer `). */
  readonly fromHeaders: readonly AuthzJwtHeader[];
}

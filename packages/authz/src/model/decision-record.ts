import type { Attributes, AuthzRequest } from './policy.js';

/** Which enforcement point made a recorded decision (`envoy`: a path it refused to parse). */
export type EnforcementPoint = 'rbac' | 'ext_authz' | 'jwt' | 'envoy';

/**
 * One entry of the decision log (docs/authz.md): the request as the enforcement point saw it —
 * enough to replay it against another policy set (`parley authz diff`) — and what was decided,
 * by which policy and rule, and why. Stored in the audit chain (module `authz`, action
 * `decision`, subject the request id); never holds a token (claims only).
 */
export interface DecisionRecord {
  /** Milliseconds since the epoch. */
  readonly at: number;
  /** Envoy's `x-request-id`, which the denied response carries. */
  readonly requestId: string;
  /** The mesh config commit the enforcement point decided with, when known. */
  readonly version?: string;
  readonly enforcedBy: EnforcementPoint;
  readonly source: {
    readonly principal?: string;
    readonly address?: string;
  };
  readonly destination: {
    readonly service?: string;
    readonly principal: string;
    readonly port: number;
  };
  readonly request: {
    readonly method: string;
    readonly host: string;
    /** The `:path` as received (query included). */
    readonly path: string;
    /** The headers the policies refer to (lower-case names); others are not recorded. */
    readonly headers: Readonly<Record<string, string | readonly string[]>>;
    /** Claims of the verified end-user JWT, when there was one. */
    readonly claims?: Readonly<Record<string, unknown>>;
  };
  readonly outcome: 'allow' | 'deny';
  /** The deciding policy and rule, when a rule decided (absent for a default or a refusal). */
  readonly policy?: string;
  readonly rule?: string;
  readonly why: string;
  /** What the dry-run policies would have decided, when any applied. */
  readonly dryRun?: {
    readonly outcome: 'allow' | 'deny';
    readonly policy?: string;
    readonly rule?: string;
  };
}

/** The evaluator's request for a recorded decision (to replay it), at the recorded time. */
export function requestOfRecord(
  record: DecisionRecord,
  resolve: (principal: string) => { readonly service?: string; readonly attributes?: Attributes },
): AuthzRequest {
  const caller = record.source.principal === undefined ? {} : resolve(record.source.principal);
  const target = resolve(record.destination.principal);
  return {
    source: { ...record.source, ...caller },
    destination: { ...record.destination, ...target },
    request: {
      method: record.request.method,
      host: record.request.host,
      path: record.request.path,
      headers: record.request.headers,
      ...(record.request.claims !== undefined && { auth: { claims: record.request.claims } }),
    },
    time: new Date(record.at),
  };
}

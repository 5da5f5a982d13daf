import {
  type TokenGrant,
  type TokenPolicy,
  type TokenPolicyRule,
  matchStringPattern,
} from '@parley/api';
import type { OAuthErrorCode } from '../oauth/token-request.js';

/** A request for a token, as the policy sees it (the client already authenticated). */
export interface GrantRequest {
  /** The client's SPIFFE ID. */
  readonly client: string;
  readonly grant: TokenGrant;
  /** Requested audiences; empty lets the policy pick when only one is allowed. */
  readonly audiences: readonly string[];
  /** Requested scopes; empty asks for none (client credentials) or the subject's (exchange). */
  readonly scopes: readonly string[];
  /** For token exchange: the subject token's issuer (`self` for Parley's own), `sub`, scopes. */
  readonly subject?: {
    readonly issuer: string;
    readonly sub: string;
    readonly scopes: readonly string[];
  };
}

/** What the policy grants, or the RFC error code that refuses the request. */
export type GrantDecision =
  | {
      readonly ok: true;
      readonly audiences: readonly string[];
      readonly scopes: readonly string[];
      readonly maxTtlMs: number;
      /** `policy/rule` of every rule that granted an audience. */
      readonly rules: readonly string[];
    }
  | { readonly ok: false; readonly error: OAuthErrorCode; readonly description: string };

interface NamedRule {
  readonly policy: string;
  readonly rule: TokenPolicyRule;
}

/** The TokenPolicy rules in force, with a per-client cache of the rules that name the client. */
export class TokenPolicySet {
  readonly #rules: readonly NamedRule[];
  readonly #byClient = new Map<string, readonly NamedRule[]>();

  constructor(policies: readonly TokenPolicy[]) {
    this.#rules = policies.flatMap((p) => p.rules.map((rule) => ({ policy: p.name, rule })));
  }

  /** Rules whose `clients` match this SPIFFE ID. */
  forClient(client: string): readonly NamedRule[] {
    let rules = this.#byClient.get(client);
    if (rules === undefined) {
      rules = this.#rules.filter((r) => r.rule.clients.some((p) => matchStringPattern(p, client)));
      if (this.#byClient.size >= 10_000) this.#byClient.clear();
      this.#byClient.set(client, rules);
    }
    return rules;
  }
}

const refuse = (error: OAuthErrorCode, description: string): GrantDecision => ({
  ok: false,
  error,
  description,
});

/**
 * Decides a token request against the TokenPolicy rules (docs/tokens.md), deny by default:
 * - no rule names the client for this grant → `unauthorized_client`;
 * - for an exchange, no such rule accepts the subject token's issuer and subject →
 *   `invalid_grant`;
 * - an audience no applicable rule allows → `invalid_target` (no audience requested: the one
 *   audience the rules allow, else `invalid_target`);
 * - a scope not allowed for every requested audience → `invalid_scope`; for an exchange the
 *   scopes are also limited to the subject token's (no scope requested: the subject's scopes
 *   that are allowed);
 * - the lifetime is the smallest, over the audiences, of the largest `maxTtl` allowing it.
 */
export function decideTokenGrant(set: TokenPolicySet, req: GrantRequest): GrantDecision {
  const forGrant = set.forClient(req.client).filter((r) => r.rule.grants.includes(req.grant));
  if (forGrant.length === 0) {
    return refuse('unauthorized_client', `no TokenPolicy lets this client use ${req.grant}`);
  }
  const subject = req.subject;
  const applicable =
    subject === undefined
      ? forGrant
      : forGrant.filter(
          (r) =>
            r.rule.subjects !== undefined &&
            r.rule.subjects.issuers.includes(subject.issuer) &&
            r.rule.subjects.subjects.some((p) => matchStringPattern(p, subject.sub)),
        );
  if (applicable.length === 0) {
    return refuse('invalid_grant', 'no TokenPolicy lets this client exchange this subject token');
  }
  let audiences = req.audiences;
  if (audiences.length === 0) {
    const allowed = new Set(applicable.flatMap((r) => r.rule.audiences));
    if (allowed.size !== 1) {
      return refuse('invalid_target', 'an audience is required');
    }
    audiences = [...allowed];
  }
  let maxTtlMs = Number.POSITIVE_INFINITY;
  let allowedScopes: Set<string> | undefined;
  const rules = new Set<string>();
  for (const aud of audiences) {
    const granting = applicable.filter((r) => r.rule.audiences.includes(aud));
    if (granting.length === 0) {
      return refuse(
        'invalid_target',
        `audience ${JSON.stringify(aud.slice(0, 128))} is not allowed`,
      );
    }
    maxTtlMs = Math.min(maxTtlMs, Math.max(...granting.map((r) => r.rule.maxTtlMs)));
    const scopes = new Set(granting.flatMap((r) => r.rule.scopes));
    allowedScopes =
      allowedScopes === undefined
        ? scopes
        : new Set([...allowedScopes].filter((s) => scopes.has(s)));
    for (const r of granting) rules.add(`${r.policy}/${r.rule.name}`);
  }
  const permitted = allowedScopes ?? new Set<string>();
  let scopes: readonly string[];
  if (req.scopes.length > 0) {
    const outside = req.scopes.find((s) => !permitted.has(s));
    if (outside !== undefined) {
      return refuse(
        'invalid_scope',
        `scope ${JSON.stringify(outside.slice(0, 128))} is not allowed`,
      );
    }
    if (subject !== undefined) {
      const held = new Set(subject.scopes);
      const notHeld = req.scopes.find((s) => !held.has(s));
      if (notHeld !== undefined) {
        return refuse(
          'invalid_scope',
          `scope ${JSON.stringify(notHeld.slice(0, 128))} is not in the subject token`,
        );
      }
    }
    scopes = req.scopes;
  } else {
    scopes = subject === undefined ? [] : subject.scopes.filter((s) => permitted.has(s));
  }
  return { ok: true, audiences, scopes, maxTtlMs, rules: [...rules] };
}

import { type ObjectReader, durationMs, readConfig } from '@parley/core';
import type { AuthzStringPattern } from '../authz/authorization-policy.js';
import { type Parsed, parseSpiffeIdPattern, readList, readRules } from '../policy/policy-fields.js';

/** The grants a TokenPolicy rule may allow. */
export const TOKEN_GRANTS = ['client_credentials', 'token-exchange'] as const;

/** One grant: a workload's own token, or an exchanged (delegated) one (RFC 8693). */
export type TokenGrant = (typeof TOKEN_GRANTS)[number];

/** Whose tokens a rule lets its clients exchange (RFC 8693 subject tokens). */
export interface TokenSubjects {
  /** Issuer identifiers of subject tokens; `self` is Parley's own issuer. */
  readonly issuers: readonly string[];
  /** Patterns over the subject token's `sub`: `*`, exact, or a prefix ending `*`. */
  readonly subjects: readonly AuthzStringPattern[];
}

/** One rule of a TokenPolicy: who may obtain tokens for which audiences and scopes. */
export interface TokenPolicyRule {
  readonly name: string;
  /** SPIFFE ID patterns of the clients: `*`, an exact ID, or a prefix ending `/*`. */
  readonly clients: readonly AuthzStringPattern[];
  readonly grants: readonly TokenGrant[];
  /** Audiences (exact values) the tokens may be for. */
  readonly audiences: readonly string[];
  /** Scope tokens the tokens may carry. */
  readonly scopes: readonly string[];
  /** The longest lifetime of a token this rule allows, in milliseconds. */
  readonly maxTtlMs: number;
  /** For `token-exchange`: whose tokens may be exchanged (absent: none). */
  readonly subjects?: TokenSubjects;
}

/** A TokenPolicy from the mesh config repository. */
export interface TokenPolicy {
  readonly name: string;
  readonly rules: readonly TokenPolicyRule[];
}

/** A rule's maximum lifetime when it names none. */
export const DEFAULT_TOKEN_MAX_TTL_MS = 5 * 60_000;
/** No rule may allow tokens longer-lived than this. */
export const MAX_TOKEN_TTL_MS = 24 * 60 * 60_000;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/; // RFC 6749 §3.3
const MAX_VALUE_BYTES = 1024;

function audience(value: unknown): Parsed<string> {
  if (typeof value !== 'string' || value === '') return { problem: 'must be a non-empty string' };
  if (value.length > MAX_VALUE_BYTES)
    return { problem: `must be at most ${MAX_VALUE_BYTES} characters` };
  // Printable ASCII without spaces: an audience is an identifier, often a URI.
  if (!/^[\x21-\x7e]+$/.test(value)) return { problem: 'must be printable ASCII without spaces' };
  return { ok: value };
}

function subjectPattern(value: unknown): Parsed<AuthzStringPattern> {
  if (typeof value !== 'string' || value === '') return { problem: 'must be a non-empty string' };
  if (value === '*') return { ok: { kind: 'any', text: value } };
  if (value.length > MAX_VALUE_BYTES)
    return { problem: `must be at most ${MAX_VALUE_BYTES} characters` };
  if (value.endsWith('*')) {
    const prefix = value.slice(0, -1);
    if (prefix.includes('*')) return { problem: 'only a trailing "*" is a wildcard' };
    return { ok: { kind: 'prefix', value: prefix, text: value } };
  }
  if (value.includes('*')) return { problem: 'only a trailing "*" is a wildcard' };
  return { ok: { kind: 'exact', value, text: value } };
}

/**
 * Reads a TokenPolicy's `spec`: `rules: [{ name, clients, grants, audiences, scopes, maxTtl,
 * subjects: { issuers, subjects } }]`, reporting every problem on `r` with its field path.
 */
export function readTokenPolicySpec(r: ObjectReader, name: string): TokenPolicy {
  const rules = readRules(r, (rule, ruleName): TokenPolicyRule => {
    const grants =
      rule.raw('grants') === undefined
        ? (['client_credentials'] as TokenGrant[])
        : readList(rule, 'grants', (v) =>
            (TOKEN_GRANTS as readonly unknown[]).includes(v)
              ? { ok: v as TokenGrant }
              : { problem: `must be one of ${TOKEN_GRANTS.join(', ')}` },
          );
    const scopes =
      rule.raw('scopes') === undefined
        ? []
        : readList(rule, 'scopes', (v) =>
            typeof v === 'string' && SCOPE_TOKEN.test(v)
              ? { ok: v }
              : { problem: 'must be an RFC 6749 scope token (printable ASCII, no space, " or \\)' },
          );
    const maxTtlMs: number = rule.duration('maxTtl', durationMs(DEFAULT_TOKEN_MAX_TTL_MS));
    if (maxTtlMs < 1000 || maxTtlMs > MAX_TOKEN_TTL_MS) {
      rule.problem('maxTtl', 'must be between 1s and 24h');
    }
    const s = rule.object('subjects');
    const subjects: TokenSubjects | undefined =
      s === undefined
        ? undefined
        : {
            issuers: readList(s, 'issuers', audience),
            subjects:
              s.raw('subjects') === undefined
                ? [{ kind: 'any', text: '*' }]
                : readList(s, 'subjects', subjectPattern),
          };
    if (grants.includes('token-exchange') && subjects === undefined) {
      rule.problem('subjects', 'is required when grants include token-exchange');
    }
    if (subjects !== undefined && !grants.includes('token-exchange')) {
      rule.problem('subjects', 'only applies to the token-exchange grant');
    }
    return {
      name: ruleName,
      clients: readList(rule, 'clients', parseSpiffeIdPattern),
      grants,
      audiences: readList(rule, 'audiences', audience),
      scopes,
      maxTtlMs,
      ...(subjects !== undefined && { subjects }),
    };
  });
  return { name, rules };
}

/** Parses a TokenPolicy spec given as JSON; throws listing every problem. */
export function parseTokenPolicyDocument(json: unknown, name: string): TokenPolicy {
  return readConfig(json, (r) => readTokenPolicySpec(r, name), `token policy ${name}`);
}

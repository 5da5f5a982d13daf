import { type ObjectReader, parseSpiffeId, readConfig } from '@parley/core';
import type { AuthzStringPattern } from '../authz/authorization-policy.js';
import { type SecretPathGlob, parseSecretPathGlob } from './secret-path.js';

/** What a SecretPolicy rule may grant or deny. */
export const SECRET_CAPABILITIES = ['read', 'write', 'list', 'delete', 'destroy'] as const;

/** One capability: read data and metadata, write, list a folder, (un)delete, destroy. */
export type SecretCapability = (typeof SECRET_CAPABILITIES)[number];

/** One rule of a SecretPolicy. */
export interface SecretPolicyRule {
  readonly name: string;
  readonly effect: 'allow' | 'deny';
  /** SPIFFE ID patterns: `*`, an exact ID, or a prefix ending `/*`. */
  readonly principals: readonly AuthzStringPattern[];
  readonly paths: readonly SecretPathGlob[];
  readonly capabilities: readonly SecretCapability[];
}

/** A SecretPolicy: from the mesh config repository or stored through the admin API. */
export interface SecretPolicy {
  readonly name: string;
  readonly origin: 'mesh' | 'admin';
  readonly rules: readonly SecretPolicyRule[];
}

function principal(value: unknown): Parsed<AuthzStringPattern> {
  if (typeof value !== 'string') return { problem: 'must be a string' };
  if (value === '*') return { ok: { kind: 'any', text: value } };
  const prefix = value.endsWith('/*');
  try {
    parseSpiffeId(prefix ? value.slice(0, -2) : value);
  } catch (err) {
    return { problem: (err as Error).message };
  }
  return {
    ok: prefix
      ? { kind: 'prefix', value: value.slice(0, -1), text: value }
      : { kind: 'exact', value, text: value },
  };
}

// Rule names appear in audit records and decisions: keep them plain.
const RULE_NAME = /^[A-Za-z0-9_-]{1,63}$/;

type Parsed<T> = { readonly ok: T } | { readonly problem: string };

function strings<T>(r: ObjectReader, key: string, parse: (value: unknown) => Parsed<T>): T[] {
  const out: T[] = [];
  const raw = r.raw(key);
  if (raw === undefined) {
    r.problem(key, 'is required');
    return out;
  }
  const items = r.array(key, (v) => v);
  if (Array.isArray(raw) && raw.length === 0) r.problem(key, 'must be a non-empty list');
  for (const [i, v] of items.entries()) {
    const parsed = parse(v);
    if ('problem' in parsed) r.problem(`${key}[${i}]`, parsed.problem);
    else out.push(parsed.ok);
  }
  return out;
}

/**
 * Reads a SecretPolicy's `spec` (`rules: [{ name, effect, principals, paths, capabilities }]`),
 * reporting every problem on `r` with its field path.
 */
export function readSecretPolicySpec(
  r: ObjectReader,
  name: string,
  origin: 'mesh' | 'admin',
): SecretPolicy {
  const names = new Set<string>();
  const present = r.raw('rules') !== undefined;
  const rules = r.objects('rules').map((rule, i): SecretPolicyRule => {
    const ruleName = rule.string('name', `rule-${i}`);
    if (!RULE_NAME.test(ruleName)) {
      rule.problem('name', 'must be 1-63 letters, digits, "-" or "_"');
    } else if (names.has(ruleName)) rule.problem('name', `"${ruleName}" is used by another rule`);
    names.add(ruleName);
    return {
      name: ruleName,
      effect: rule.oneOf('effect', ['allow', 'deny'] as const, 'allow'),
      principals: strings(rule, 'principals', principal),
      paths: strings(rule, 'paths', (v) => {
        if (typeof v !== 'string') return { problem: 'must be a string' };
        try {
          return { ok: parseSecretPathGlob(v) };
        } catch (err) {
          return { problem: (err as Error).message };
        }
      }),
      capabilities: strings(rule, 'capabilities', (v) =>
        (SECRET_CAPABILITIES as readonly unknown[]).includes(v)
          ? { ok: v as SecretCapability }
          : { problem: `must be one of ${SECRET_CAPABILITIES.join(', ')}` },
      ),
    };
  });
  if (!present) r.problem('rules', 'is required');
  else if (rules.length === 0 && Array.isArray(r.raw('rules'))) {
    r.problem('rules', 'must be a non-empty list');
  }
  return { name, origin, rules };
}

/** Parses a SecretPolicy spec given as JSON (the admin API); throws listing every problem. */
export function parseSecretPolicyDocument(
  json: unknown,
  name: string,
  origin: 'mesh' | 'admin',
): SecretPolicy {
  return readConfig(json, (r) => readSecretPolicySpec(r, name, origin), `secret policy ${name}`);
}

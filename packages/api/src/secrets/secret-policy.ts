import { type ObjectReader, readConfig } from '@parley/core';
import { parseSpiffeIdPattern, readList, readRules } from '../policy/policy-fields.js';
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

/**
 * Reads a SecretPolicy's `spec` (`rules: [{ name, effect, principals, paths, capabilities }]`),
 * reporting every problem on `r` with its field path.
 */
export function readSecretPolicySpec(
  r: ObjectReader,
  name: string,
  origin: 'mesh' | 'admin',
): SecretPolicy {
  const rules = readRules(r, (rule, ruleName): SecretPolicyRule => ({
    name: ruleName,
    effect: rule.oneOf('effect', ['allow', 'deny'] as const, 'allow'),
    principals: readList(rule, 'principals', parseSpiffeIdPattern),
    paths: readList(rule, 'paths', (v) => {
      if (typeof v !== 'string') return { problem: 'must be a string' };
      try {
        return { ok: parseSecretPathGlob(v) };
      } catch (err) {
        return { problem: (err as Error).message };
      }
    }),
    capabilities: readList(rule, 'capabilities', (v) =>
      (SECRET_CAPABILITIES as readonly unknown[]).includes(v)
        ? { ok: v as SecretCapability }
        : { problem: `must be one of ${SECRET_CAPABILITIES.join(', ')}` },
    ),
  }));
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

import { type ObjectReader, parseSpiffeId } from '@parley/core';
import type { AuthzStringPattern } from '../authz/authorization-policy.js';

/** A value read from a policy document, or why it could not be. */
export type Parsed<T> = { readonly ok: T } | { readonly problem: string };

/** Rule names appear in audit records and decisions: keep them plain. */
export const RULE_NAME = /^[A-Za-z0-9_-]{1,63}$/;

/** A SPIFFE ID pattern: `*`, an exact ID, or a prefix ending `/*`. */
export function parseSpiffeIdPattern(value: unknown): Parsed<AuthzStringPattern> {
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

/** True when `value` matches the pattern. */
export function matchStringPattern(p: AuthzStringPattern, value: string): boolean {
  switch (p.kind) {
    case 'any':
      return true;
    case 'exact':
      return value === p.value;
    case 'prefix':
      return value.startsWith(p.value);
    case 'suffix':
      return value.endsWith(p.value);
  }
}

/**
 * Reads a required, non-empty list at `key`, parsing each item; every problem is reported on
 * `r` with the item's index.
 */
export function readList<T>(
  r: ObjectReader,
  key: string,
  parse: (value: unknown) => Parsed<T>,
): T[] {
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
 * Reads `rules` (a required non-empty list of objects), each through `readRule` with its name
 * checked and unique.
 */
export function readRules<T>(
  r: ObjectReader,
  readRule: (rule: ObjectReader, name: string) => T,
): T[] {
  const names = new Set<string>();
  const present = r.raw('rules') !== undefined;
  const rules = r.objects('rules').map((rule, i) => {
    const ruleName = rule.string('name', `rule-${i}`);
    if (!RULE_NAME.test(ruleName)) {
      rule.problem('name', 'must be 1-63 letters, digits, "-" or "_"');
    } else if (names.has(ruleName)) rule.problem('name', `"${ruleName}" is used by another rule`);
    names.add(ruleName);
    return readRule(rule, ruleName);
  });
  if (!present) r.problem('rules', 'is required');
  else if (rules.length === 0 && Array.isArray(r.raw('rules'))) {
    r.problem('rules', 'must be a non-empty list');
  }
  return rules;
}

import type { ObjectReader } from '@parley/core';
import type { AuthorizationPolicy, Metadata, PlainData, SourceRef } from './mesh-config.js';
import { plainData } from './read-common.js';

/**
 * Reads the `spec` of an AuthorizationPolicy: known top-level keys, a valid action, rules as a
 * list of maps; the rules themselves are carried as plain data until authorization interprets them.
 */
export function readAuthorizationPolicy(
  spec: ObjectReader,
  metadata: Metadata,
  source: SourceRef,
): AuthorizationPolicy | undefined {
  let selector: PlainData | undefined;
  if (spec.has('selector')) {
    const raw = spec.raw('selector');
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      spec.problem('selector', 'must be a map');
    } else {
      selector = data(spec, 'selector', raw);
    }
  }
  const action = spec.oneOf('action', ['ALLOW', 'DENY', 'AUDIT'] as const, 'ALLOW');
  const rules: PlainData[] = [];
  const raw = spec.raw('rules');
  if (raw !== undefined) {
    if (!Array.isArray(raw) || raw.length > 1000) {
      spec.problem('rules', 'must be a list of at most 1000 rules');
    } else {
      raw.forEach((rule: unknown, i) => {
        if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) {
          spec.problem(`rules[${i}]`, 'must be a map');
          return;
        }
        const value = data(spec, `rules[${i}]`, rule);
        if (value !== undefined) rules.push(value);
      });
    }
  }
  const dryRun = spec.boolean('dryRun', false);
  return {
    kind: 'AuthorizationPolicy',
    source,
    metadata,
    ...(selector !== undefined && { selector }),
    action,
    rules,
    dryRun,
  };
}

function data(r: ObjectReader, key: string, value: unknown): PlainData | undefined {
  try {
    return plainData(value);
  } catch (err) {
    r.problem(key, (err as Error).message);
    return undefined;
  }
}

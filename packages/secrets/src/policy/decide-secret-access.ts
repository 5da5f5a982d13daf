import {
  type AuthzStringPattern,
  type SecretCapability,
  type SecretPathGlob,
  type SecretPolicy,
  matchSecretPathGlob,
  matchStringPattern,
} from '@parley/api';

/** The decision on one secrets request, with the policy and rule that made it. */
export type SecretAccessDecision =
  | { readonly allowed: true; readonly policy: string; readonly rule: string }
  | { readonly allowed: false; readonly reason: 'no-matching-rule' }
  | {
      readonly allowed: false;
      readonly reason: 'denied-by-rule';
      readonly policy: string;
      readonly rule: string;
    };

interface CompiledRule {
  readonly policy: string;
  readonly rule: string;
  readonly deny: boolean;
  readonly principals: readonly AuthzStringPattern[];
  readonly paths: readonly SecretPathGlob[];
}

/** Rules by capability, denies first, each list in (policy name, rule order) order. */
export interface SecretPolicySet {
  readonly byCapability: ReadonlyMap<SecretCapability, readonly CompiledRule[]>;
}

/** Indexes policies for `decideSecretAccess` (pure; build once per policy change). */
export function compileSecretPolicies(policies: readonly SecretPolicy[]): SecretPolicySet {
  const sorted = [...policies].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.origin < b.origin ? -1 : 1,
  );
  const byCapability = new Map<SecretCapability, CompiledRule[]>();
  for (const deny of [true, false]) {
    for (const policy of sorted) {
      for (const rule of policy.rules) {
        if ((rule.effect === 'deny') !== deny) continue;
        for (const capability of rule.capabilities) {
          const list = byCapability.get(capability) ?? [];
          list.push({
            policy: policy.name,
            rule: rule.name,
            deny,
            principals: rule.principals,
            paths: rule.paths,
          });
          byCapability.set(capability, list);
        }
      }
    }
  }
  return { byCapability };
}

/**
 * Decides a secrets request: deny by default; any matching deny rule wins over every allow (so a
 * more specific deny always wins, and so does a broader one); else the first matching allow.
 */
export function decideSecretAccess(
  set: SecretPolicySet,
  request: {
    readonly spiffeId: string;
    readonly path: string;
    readonly capability: SecretCapability;
  },
): SecretAccessDecision {
  for (const r of set.byCapability.get(request.capability) ?? []) {
    if (!r.principals.some((p) => matchStringPattern(p, request.spiffeId))) continue;
    if (!r.paths.some((g) => matchSecretPathGlob(g, request.path))) continue;
    return r.deny
      ? { allowed: false, reason: 'denied-by-rule', policy: r.policy, rule: r.rule }
      : { allowed: true, policy: r.policy, rule: r.rule };
  }
  return { allowed: false, reason: 'no-matching-rule' };
}

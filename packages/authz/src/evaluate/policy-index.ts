import type { Policy, PolicySet } from '../model/policy.js';
import { type CompiledRule, compilePolicyRules } from './compiled-rule.js';
import { matchString } from './match-patterns.js';

/**
 * Rules in evaluation order, bucketed by caller: a rule whose every source lists exact principals
 * only sits in the bucket of each of them (no other caller can match it); every other rule is
 * general and checked for every caller. A caller's candidates are its bucket and the general
 * rules, merged back into evaluation order, so "the first matching rule" is the same rule as when
 * every rule is checked.
 */
export interface RuleList {
  readonly rules: readonly CompiledRule[];
  /** Positions in `rules`, ascending, by exact principal. */
  readonly byPrincipal: ReadonlyMap<string, readonly number[]>;
  /** Positions in `rules` of the rules not bucketed, ascending. */
  readonly general: readonly number[];
  /**
   * The same rules bucketed again by path key (`CompiledRule.pathKeys`): a request whose path has
   * another key fails their `to`. Positions ascending.
   */
  readonly byPathKey: ReadonlyMap<string, readonly number[]>;
  /** Positions in `rules` of the rules without path keys, ascending. */
  readonly pathGeneral: readonly number[];
}

/** The policies one decision applies, in Istio's order, compiled for one list of policies. */
export interface Decider {
  /** The rules of the DENY policies, in policy order. */
  readonly deny: RuleList;
  /** The rules of the ALLOW policies, in policy order. */
  readonly allow: RuleList;
  /** Whether any ALLOW policy applies (one without rules counts: it allows nothing). */
  readonly hasAllow: boolean;
  /** The names of the ALLOW policies, quoted and comma-separated. */
  readonly allowNames: string;
}

/** What applies to one destination: the enforced policies, AUDIT rules and dry-run policies. */
export interface DestinationIndex {
  /** The enforced policies (DENY and ALLOW). */
  readonly enforced: Decider;
  /** The rules of every AUDIT policy (dry-run ones too), in policy order. */
  readonly audit: RuleList;
  /** Present when dry-run (non-AUDIT) policies apply. */
  readonly dryRun?: {
    /** The enforced policies followed by the dry-run ones, as if they were enforced. */
    readonly shadow: Decider;
    /** The rules of the dry-run policies, in policy order. */
    readonly rules: RuleList;
  };
}

/** Bound on the destinations one policy set keeps compiled (they are the mesh's workloads). */
const MAX_DESTINATIONS = 4096;

interface SetIndex {
  readonly compiled: Map<Policy, readonly CompiledRule[]>;
  /** By destination Service (or undefined), then principal. */
  readonly byDestination: Map<string | undefined, Map<string, DestinationIndex>>;
  /** By the positions of the applicable policies: destinations alike share one index. */
  readonly bySelection: Map<string, DestinationIndex>;
  size: number;
}

const indexes = new WeakMap<PolicySet, SetIndex>();

/**
 * The compiled policies of `set` that apply to a destination, compiled on first use and kept
 * with the set (which must not change once evaluated: a PolicySet is an immutable snapshot).
 */
export function destinationIndex(
  set: PolicySet,
  service: string | undefined,
  principal: string,
): DestinationIndex {
  let index = indexes.get(set);
  if (index === undefined) {
    index = { compiled: new Map(), byDestination: new Map(), bySelection: new Map(), size: 0 };
    indexes.set(set, index);
  }
  const known = index.byDestination.get(service)?.get(principal);
  if (known !== undefined) return known;
  if (index.size >= MAX_DESTINATIONS) {
    index.byDestination.clear();
    index.bySelection.clear();
    index.size = 0;
  }
  const positions: number[] = [];
  set.policies.forEach((p, i) => {
    if (applies(p, service, principal)) positions.push(i);
  });
  const key = positions.join(',');
  let dest = index.bySelection.get(key);
  if (dest === undefined) {
    dest = compileDestination(set, index, positions);
    index.bySelection.set(key, dest);
  }
  let byPrincipal = index.byDestination.get(service);
  if (byPrincipal === undefined) {
    byPrincipal = new Map();
    index.byDestination.set(service, byPrincipal);
  }
  byPrincipal.set(principal, dest);
  index.size += 1;
  return dest;
}

function applies(p: Policy, service: string | undefined, principal: string): boolean {
  const s = p.selector;
  if (s === undefined) return true;
  if (service !== undefined && s.services.includes(service)) return true;
  return s.spiffeIds.some((pattern) => matchString(pattern, principal));
}

function compileDestination(
  set: PolicySet,
  index: SetIndex,
  positions: readonly number[],
): DestinationIndex {
  const rulesOf = (p: Policy): readonly CompiledRule[] => {
    let rules = index.compiled.get(p);
    if (rules === undefined) {
      rules = compilePolicyRules(set, p);
      index.compiled.set(p, rules);
    }
    return rules;
  };
  const applicable = positions.map((i) => set.policies[i] as Policy);
  const enforced = applicable.filter((p) => !p.dryRun);
  const dry = applicable.filter((p) => p.dryRun && p.action !== 'AUDIT');
  const list = (policies: readonly Policy[]) => ruleList(policies.flatMap(rulesOf));
  const decider = (policies: readonly Policy[]): Decider => {
    const allow = policies.filter((p) => p.action === 'ALLOW');
    return {
      deny: list(policies.filter((p) => p.action === 'DENY')),
      allow: list(allow),
      hasAllow: allow.length > 0,
      allowNames: allow.map((p) => `"${p.name}"`).join(', '),
    };
  };
  const enforcedDecider = decider(enforced);
  const audit = list(applicable.filter((p) => p.action === 'AUDIT'));
  if (dry.length === 0) return { enforced: enforcedDecider, audit };
  return {
    enforced: enforcedDecider,
    audit,
    dryRun: { shadow: decider([...enforced, ...dry]), rules: list(dry) },
  };
}

function ruleList(rules: readonly CompiledRule[]): RuleList {
  const byPrincipal = new Map<string, number[]>();
  const general: number[] = [];
  const byPathKey = new Map<string, number[]>();
  const pathGeneral: number[] = [];
  const add = (buckets: Map<string, number[]>, key: string, i: number) => {
    const bucket = buckets.get(key);
    if (bucket === undefined) buckets.set(key, [i]);
    else bucket.push(i);
  };
  rules.forEach((r, i) => {
    if (r.exactPrincipals === undefined) general.push(i);
    else for (const principal of r.exactPrincipals) add(byPrincipal, principal, i);
    if (r.pathKeys === undefined) pathGeneral.push(i);
    else for (const key of r.pathKeys) add(byPathKey, key, i);
  });
  return { rules, byPrincipal, general, byPathKey, pathGeneral };
}

const NONE: readonly number[] = [];

/** The positions of `principal`'s bucket in `list` (ascending; empty when it has none). */
export function bucketOf(list: RuleList, principal: string | undefined): readonly number[] {
  return principal === undefined ? NONE : (list.byPrincipal.get(principal) ?? NONE);
}

/** The positions of the path key's bucket in `list` (ascending; empty when it has none). */
export function pathBucketOf(list: RuleList, key: string | undefined): readonly number[] {
  return key === undefined ? NONE : (list.byPathKey.get(key) ?? NONE);
}

import type { DefaultAction, PolicyAction } from './policy.js';

/** A rule of a policy that matched a request. */
export interface RuleRef {
  readonly policy: string;
  readonly rule: string;
  readonly action: PolicyAction;
}

/** What settled a decision. */
export type DecidedBy =
  /** A matching DENY rule, or the first matching ALLOW rule. */
  | {
      readonly kind: 'policy';
      readonly policy: string;
      readonly rule: string;
      readonly action: 'ALLOW' | 'DENY';
    }
  /** No ALLOW policy applies to the workload: the mesh's default action. */
  | { readonly kind: 'default'; readonly defaultAction: DefaultAction }
  /** ALLOW policies apply to the workload and none of their rules matched. */
  | { readonly kind: 'no-allow-match' }
  /** The request itself was refused (a path or host that could be read two ways). */
  | { readonly kind: 'request' };

/** An ALLOW rule that did not match a denied request, and which of its conditions failed. */
export interface NearMiss {
  readonly policy: string;
  readonly rule: string;
  readonly failed: readonly string[];
}

/** The outcome of one evaluation of a set of policies. */
export interface Verdict {
  readonly outcome: 'allow' | 'deny';
  readonly decidedBy: DecidedBy;
  /** One human sentence: why this outcome. */
  readonly why: string;
}

/** An authorization decision: a value, never an exception (STYLE rule 8). */
export interface Decision extends Verdict {
  /** AUDIT rules that matched (they never change the outcome). */
  readonly audit: readonly RuleRef[];
  /**
   * Present when dry-run policies apply to the workload: the rules of theirs that matched, and
   * what the decision would be if they were enforced ("would deny", "would allow").
   */
  readonly dryRun?: Verdict & { readonly matches: readonly RuleRef[] };
  /** For a deny by no matching ALLOW rule: the rules that came closest, fewest failures first. */
  readonly closest: readonly NearMiss[];
  /** The normalized host and path the policies saw (absent when the request was refused). */
  readonly normalized?: { readonly host: string; readonly path: string };
}

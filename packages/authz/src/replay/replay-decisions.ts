// Replaying the decision log under another policy set: what `parley authz diff` shows before a
// policy change merges (issue 6, "Explain and audit"). Pure: every record carries its time.
import { evaluateRequest } from '../evaluate/evaluate-request.js';
import type { AuthzWorkload } from '../model/authz-snapshot.js';
import type { Decision } from '../model/decision.js';
import { type DecisionRecord, requestOfRecord } from '../model/decision-record.js';
import type { Attributes, PolicySet } from '../model/policy.js';

/** What the mesh knows of a SPIFFE ID: its Service and attributes (nothing when none has it). */
export type ResolveWorkload = (principal: string) => {
  readonly service?: string;
  readonly attributes?: Attributes;
};

/** A policy set and the workloads it decides for: one side of a diff (one config revision). */
export interface ReplayPolicies {
  readonly policySet: PolicySet;
  readonly resolve: ResolveWorkload;
}

/** A recorded decision and what a policy set decides for the same request. */
export interface ReplayedDecision<R extends DecisionRecord = DecisionRecord> {
  readonly record: R;
  readonly decision: Decision;
}

/** An outcome and, when a rule decided, its policy and rule; and why. */
export interface DecisionSummary {
  readonly outcome: 'allow' | 'deny';
  readonly policy?: string;
  readonly rule?: string;
  readonly why: string;
}

/** A recorded request whose decision differs between the two sides of a diff. */
export interface DecisionChange<R extends DecisionRecord = DecisionRecord> {
  readonly record: R;
  readonly before: DecisionSummary;
  readonly after: DecisionSummary;
}

/** The outcome of a diff: how many records were replayed and skipped, and the changes. */
export interface DecisionDiff<R extends DecisionRecord = DecisionRecord> {
  readonly replayed: number;
  /** Records decided before any policy (a rejected end-user JWT, a path Envoy refused). */
  readonly skipped: number;
  /** In the order of the records given. */
  readonly changes: readonly DecisionChange<R>[];
}

/**
 * True when a record's decision was made by the policies (Envoy's RBAC filter or the ext_authz
 * service), so that replaying it under other policies is meaningful. A request refused by the JWT
 * filter or by Envoy's own parsing never reached a policy, whatever the policies say.
 */
export function isReplayable(record: DecisionRecord): boolean {
  return record.enforcedBy === 'rbac' || record.enforcedBy === 'ext_authz';
}

/** A ResolveWorkload over the workloads of an authz snapshot (keyed by SPIFFE ID). */
export function resolveWorkloads(workloads: ReadonlyMap<string, AuthzWorkload>): ResolveWorkload {
  return (principal) => {
    const w = workloads.get(principal);
    return w === undefined ? {} : { service: w.service, attributes: w.attributes };
  };
}

/**
 * Decides each recorded request again under `policySet`, at the time it was recorded, with the
 * caller's and the target's Service and attributes from `resolve` (the recorded destination
 * Service stands when `resolve` knows none).
 */
export function replayDecisions<R extends DecisionRecord>(
  records: readonly R[],
  policySet: PolicySet,
  resolve: ResolveWorkload,
): ReplayedDecision<R>[] {
  return records.map((record) => ({
    record,
    decision: evaluateRequest(policySet, requestOfRecord(record, resolve)),
  }));
}

/** The outcome, deciding policy and rule, and why of a decision. */
export function summarizeDecision(decision: Decision): DecisionSummary {
  const d = decision.decidedBy;
  return {
    outcome: decision.outcome,
    ...(d.kind === 'policy' && { policy: d.policy, rule: d.rule }),
    why: decision.why,
  };
}

function recordedSummary(record: DecisionRecord): DecisionSummary {
  return {
    outcome: record.outcome,
    ...(record.policy !== undefined && { policy: record.policy }),
    ...(record.rule !== undefined && { rule: record.rule }),
    why: record.why,
  };
}

/**
 * Replays the replayable records under `from` and `to` and returns those whose outcome, or
 * deciding policy or rule, differs. With `from: 'recorded'` the recorded decision is the "before";
 * what a record does not name is not compared: a record of RBAC's default deny or of a sampled
 * RBAC allow names no policy, so only its outcome can change.
 */
export function diffDecisions<R extends DecisionRecord>(
  records: readonly R[],
  from: ReplayPolicies | 'recorded',
  to: ReplayPolicies,
): DecisionDiff<R> {
  const replayable = records.filter(isReplayable);
  const after = replayDecisions(replayable, to.policySet, to.resolve);
  const before =
    from === 'recorded'
      ? replayable.map(recordedSummary)
      : replayDecisions(replayable, from.policySet, from.resolve).map((r) =>
          summarizeDecision(r.decision),
        );
  const changes: DecisionChange<R>[] = [];
  after.forEach(({ record, decision }, i) => {
    const b = before[i];
    if (b === undefined) return;
    const a = summarizeDecision(decision);
    const partial = from === 'recorded';
    const same =
      a.outcome === b.outcome &&
      ((partial && b.policy === undefined) || a.policy === b.policy) &&
      ((partial && b.rule === undefined) || a.rule === b.rule);
    if (!same) changes.push({ record, before: b, after: a });
  });
  return { replayed: replayable.length, skipped: records.length - replayable.length, changes };
}

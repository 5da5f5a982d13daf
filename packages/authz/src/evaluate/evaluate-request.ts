import type { Decision, NearMiss, RuleRef, Verdict } from '../model/decision.js';
import type { AuthzRequest, PolicySet } from '../model/policy.js';
import { type CompiledRule, failureCount, ruleFailures, ruleMatches } from './compiled-rule.js';
import { normalizeHost } from './normalize-host.js';
import { normalizePath } from './normalize-path.js';
import {
  type Decider,
  type RuleList,
  bucketOf,
  destinationIndex,
  pathBucketOf,
} from './policy-index.js';
import { RequestContext, trustDomainOf } from './request-context.js';

const NO_REFS: readonly RuleRef[] = Object.freeze([]);

/** How many near misses a deny reports. */
const CLOSEST = 3;

/** How to evaluate a request. */
export interface EvaluateOptions {
  /**
   * Whether a deny by no matching ALLOW rule lists the rules that came closest in `closest`
   * (default true, as `parley authz check` shows them). When false, `closest` is empty and the
   * rest of the decision — `why`, which names the closest rule, included — is the same, for a
   * fraction of the work (the ext_authz Check path).
   */
  readonly explain?: boolean;
}

/**
 * Decides one request against a policy set in Istio's order: a matching DENY rule denies; with no
 * ALLOW policy on the workload the mesh default decides (ALLOW admits authenticated callers of the
 * workload's own trust domain only); a matching ALLOW rule allows; otherwise deny. AUDIT rules are
 * reported and never change the outcome; dry-run policies are evaluated beside the enforced ones
 * and reported as what would happen. Pure: the request carries its time. The set is compiled into
 * an index on first use and kept with it (policy-index.ts); it must not change afterwards.
 */
export function evaluateRequest(
  set: PolicySet,
  req: AuthzRequest,
  options: EvaluateOptions = {},
): Decision {
  // Most paths and hosts are already in normal form: then they are used as they are.
  let path = req.request.path;
  if (!isNormalPath(path)) {
    const normal = normalizePath(path);
    if (!normal.ok) return refused(normal.reason);
    path = normal.path;
  }
  let hostName = req.request.host;
  let hostPort: number | undefined;
  if (!isNormalHost(hostName)) {
    const normal = normalizeHost(hostName);
    if (!normal.ok) return refused(normal.reason);
    hostName = normal.name;
    hostPort = normal.port;
  }
  const ctx = new RequestContext(req, hostName, hostPort, path);
  const dest = destinationIndex(set, req.destination.service, req.destination.principal);
  const audit = matchingRules(ctx, dest.audit);
  const verdict = decide(ctx, set, dest.enforced, options.explain ?? true);
  const normalized = {
    host: hostPort === undefined ? hostName : `${hostName}:${hostPort}`,
    path,
  };
  const decision: Decision = {
    outcome: verdict.outcome,
    decidedBy: verdict.decidedBy,
    why: verdict.why,
    audit,
    closest: verdict.closest,
    normalized,
  };
  if (dest.dryRun === undefined) return decision;
  const shadow = decide(ctx, set, dest.dryRun.shadow, false);
  const matches = matchingRules(ctx, dest.dryRun.rules);
  return {
    ...decision,
    dryRun: {
      outcome: shadow.outcome,
      decidedBy: shadow.decidedBy,
      why: `with dry-run policies enforced, would ${shadow.outcome}: ${shadow.why}`,
      matches,
    },
  };
}

/** The decision on a request refused before any policy (a path or host read two ways). */
function refused(reason: string): Decision {
  return {
    outcome: 'deny',
    decidedBy: { kind: 'request' },
    why: `refused before any policy: ${reason}`,
    audit: [],
    closest: [],
  };
}

function decide(
  ctx: RequestContext,
  set: PolicySet,
  d: Decider,
  explain: boolean,
): Verdict & { closest: readonly NearMiss[] } {
  const deny = firstMatch(ctx, d.deny)?.verdict;
  if (deny !== undefined) return deny;
  if (!d.hasAllow) {
    const dest = trustDomainOf(ctx.req.destination.principal);
    if (set.defaultAction === 'DENY') {
      return {
        outcome: 'deny',
        decidedBy: { kind: 'default', defaultAction: 'DENY' },
        why: 'no ALLOW policy applies to the workload and the mesh default is deny',
        closest: [],
      };
    }
    const ok = ctx.trustDomain !== undefined && ctx.trustDomain === dest;
    return {
      outcome: ok ? 'allow' : 'deny',
      decidedBy: { kind: 'default', defaultAction: 'ALLOW' },
      why: ok
        ? 'no ALLOW policy applies to the workload; the mesh default admits callers of its trust domain'
        : `no ALLOW policy applies to the workload; the mesh default admits only authenticated callers of ${dest ?? 'its trust domain'}`,
      closest: [],
    };
  }
  const allow = firstMatch(ctx, d.allow)?.verdict;
  if (allow !== undefined) return allow;
  const nearest = closestRules(ctx, d.allow, explain ? CLOSEST : 1).map((r): NearMiss => ({
    policy: r.policy.name,
    rule: r.rule.name,
    failed: ruleFailures(ctx, r),
  }));
  const first = nearest[0];
  return {
    outcome: 'deny',
    decidedBy: { kind: 'no-allow-match' },
    why:
      first === undefined
        ? `no rule of the ALLOW policies ${d.allowNames} matches (they have no rules)`
        : `no ALLOW rule matches; closest: "${first.policy}" rule "${first.rule}" (${first.failed.join('; ')})`,
    closest: explain ? nearest : [],
  };
}

/** The first rule of `list` that matches, in evaluation order: only the caller's candidates. */
function firstMatch(ctx: RequestContext, list: RuleList): CompiledRule | undefined {
  const { rules, general } = list;
  const bucket = bucketOf(list, ctx.principal);
  let b = 0;
  let g = 0;
  while (b < bucket.length || g < general.length) {
    const i = (bucket[b] ?? Infinity) < (general[g] ?? Infinity) ? bucket[b++] : general[g++];
    const r = rules[i as number] as CompiledRule;
    if (ruleMatches(ctx, r)) return r;
  }
  return undefined;
}

/** Every rule of `list` that matches, in evaluation order. */
function matchingRules(ctx: RequestContext, list: RuleList): readonly RuleRef[] {
  const { rules, general } = list;
  if (rules.length === 0) return NO_REFS;
  let out: RuleRef[] | undefined;
  const bucket = bucketOf(list, ctx.principal);
  let b = 0;
  let g = 0;
  while (b < bucket.length || g < general.length) {
    const i = (bucket[b] ?? Infinity) < (general[g] ?? Infinity) ? bucket[b++] : general[g++];
    const r = rules[i as number] as CompiledRule;
    if (ruleMatches(ctx, r)) (out ??= []).push(r.ref);
  }
  return out ?? NO_REFS;
}

/**
 * The `count` rules of `list` (none of which matches) with the fewest failing conditions, fewest
 * first and in evaluation order among equals. Failures are counted only as far as can still
 * place a rule, a caller outside a rule's exact principals fails its `from` without a look, and
 * the search ends once `count` rules failing one condition each are found (none can do better).
 */
function closestRules(ctx: RequestContext, list: RuleList, count: number): CompiledRule[] {
  if (count === 1) {
    const rule = closestByIndex(ctx, list);
    if (rule !== undefined) return [rule];
  }
  const { rules } = list;
  const bucket = bucketOf(list, ctx.principal);
  const top: { rule: CompiledRule; failures: number }[] = [];
  let b = 0;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as CompiledRule;
    let fromFails = false;
    if (rule.exactPrincipals !== undefined) {
      if (bucket[b] === i) b += 1;
      else fromFails = true;
    }
    const cap = top.length < count ? Infinity : (top[count - 1]?.failures ?? Infinity);
    const failures = failureCount(ctx, rule, cap, fromFails);
    if (failures >= cap) continue;
    let at = top.length;
    while (at > 0 && (top[at - 1]?.failures ?? 0) > failures) at -= 1;
    top.splice(at, 0, { rule, failures });
    if (top.length > count) top.pop();
    if (top.length === count && (top[count - 1]?.failures ?? Infinity) <= 1) break;
  }
  return top.map((t) => t.rule);
}

/**
 * The first rule failing one condition only, looked for among the rules that can: a rule outside
 * both the caller's candidates and the path's fails `from` and `to` at least. Undefined when
 * none of them fails just one (the caller then counts every rule).
 */
function closestByIndex(ctx: RequestContext, list: RuleList): CompiledRule | undefined {
  const lists = [
    bucketOf(list, ctx.principal),
    list.general,
    pathBucketOf(list, ctx.pathKey),
    list.pathGeneral,
  ];
  const at = [0, 0, 0, 0];
  let last = -1;
  for (;;) {
    // The next position of the four ascending lists, past the last one looked at.
    let next = Infinity;
    for (let k = 0; k < 4; k++) {
      const positions = lists[k] as readonly number[];
      let j = at[k] as number;
      while (j < positions.length && (positions[j] as number) <= last) j += 1;
      at[k] = j;
      if (j < positions.length) next = Math.min(next, positions[j] as number);
    }
    if (next === Infinity) return undefined;
    last = next;
    const rule = list.rules[next] as CompiledRule;
    if (failureCount(ctx, rule, 2, false) <= 1) return rule;
  }
}

/**
 * True when `normalizePath` would return `path` unchanged: it starts with a slash, is at most
 * 8192 characters of unreserved characters and slashes (nothing to decode, no query or fragment),
 * and has no `.` or `..` segment and no empty one but the last (nothing to remove or merge).
 */
function isNormalPath(path: string): boolean {
  if (path.length > 8192 || path.charCodeAt(0) !== SLASH) return false;
  let start = 1;
  for (let i = 1; i <= path.length; i++) {
    const c = i < path.length ? path.charCodeAt(i) : SLASH;
    if (c === SLASH) {
      const length = i - start;
      if (length === 0 && i < path.length) return false;
      if (length === 1 && path.charCodeAt(start) === DOT) return false;
      if (length === 2 && path.charCodeAt(start) === DOT && path.charCodeAt(start + 1) === DOT) {
        return false;
      }
      start = i + 1;
    } else if (!isUnreserved(c)) {
      return false;
    }
  }
  return true;
}

/**
 * True when `normalizeHost` would return `host` unchanged as the name, without a port: 1–253
 * lower-case letters, digits, `_`, `-` and `.`, beginning and ending with neither `-` nor `.`.
 */
function isNormalHost(host: string): boolean {
  const n = host.length;
  if (n === 0 || n > 253 || !isHostEnd(host.charCodeAt(0)) || !isHostEnd(host.charCodeAt(n - 1))) {
    return false;
  }
  for (let i = 1; i < n - 1; i++) {
    const c = host.charCodeAt(i);
    if (!isHostEnd(c) && c !== 0x2d && c !== DOT) return false;
  }
  return true;
}

/** `[a-z0-9_]`: what a host name may begin and end with. */
function isHostEnd(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f;
}

const SLASH = 0x2f;
const DOT = 0x2e;

/** RFC 3986 `unreserved`: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === DOT ||
    c === 0x5f ||
    c === 0x7e
  );
}

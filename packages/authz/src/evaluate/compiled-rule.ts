import type { NearMiss, RuleRef, Verdict } from '../model/decision.js';
import type {
  Condition,
  HostPattern,
  Operation,
  PathPattern,
  Policy,
  PolicySet,
  Rule,
  Source,
  StringPattern,
} from '../model/policy.js';
import {
  ABSENT,
  type ExpressionValue,
  ExpressionError,
  evaluateExpression,
} from './evaluate-expression.js';
import { type MatchMode, inCidr, matchString } from './match-patterns.js';
import { type RequestContext, pathKeyOf } from './request-context.js';

// Patterns compiled once per policy set: case folded ahead of time for case-insensitive matches,
// the trailing-slash form of a prefix precomputed, roles resolved by name. Every predicate here is
// the one of the reference evaluator (reference-evaluator.ts, match-patterns.ts) without per-request
// allocation; evaluate-equivalence.test.ts holds them to it.

/** A string pattern, its value case-folded when compiled for a case-insensitive match. */
type CompiledString =
  | { readonly kind: 'any' }
  | { readonly kind: 'exact' | 'suffix'; readonly value: string }
  /** `bare`: the value without its trailing slash (`/api/*` also matches `/api`). */
  | { readonly kind: 'prefix'; readonly value: string; readonly bare: string | undefined };

/** A path pattern; template literals are case-folded for a case-insensitive operation. */
type CompiledPath =
  CompiledString | { readonly kind: 'template'; readonly segments: readonly TemplatePart[] };

/** A template segment: a literal, ONE (`{*}`) or ANY (`{**}`). */
type TemplatePart = string | typeof ONE | typeof ANY;
const ONE = 1;
const ANY = 2;

interface CompiledHost {
  readonly port: number | undefined;
  /** Lower case (hosts always match case-insensitively). */
  readonly name: CompiledString;
}

interface CompiledOperation {
  readonly hosts: readonly CompiledHost[];
  readonly notHosts: readonly CompiledHost[];
  readonly methods: readonly string[];
  readonly methodsUpper: readonly string[];
  readonly notMethods: readonly string[];
  readonly notMethodsUpper: readonly string[];
  readonly ignoreCase: boolean;
  readonly paths: readonly CompiledPath[];
  readonly notPaths: readonly CompiledPath[];
  readonly ports: readonly number[];
  readonly notPorts: readonly number[];
}

interface CompiledSource {
  readonly principals: readonly CompiledString[];
  readonly notPrincipals: readonly CompiledString[];
  readonly trustDomains: readonly string[];
  readonly notTrustDomains: readonly string[];
}

interface CompiledRole {
  readonly principals: readonly CompiledString[];
  readonly permissions: readonly CompiledOperation[];
}

/** A rule of a policy, compiled for matching. */
export interface CompiledRule {
  readonly policy: Policy;
  readonly rule: Rule;
  /** `strict` for ALLOW rules, `loose` for DENY and AUDIT ones. */
  readonly mode: MatchMode;
  /** What a decision reports when the rule matches (shared, frozen). */
  readonly ref: RuleRef;
  /** The verdict of an ALLOW or DENY rule that decides (shared, frozen); undefined for AUDIT. */
  readonly verdict: RuleVerdict | undefined;
  /**
   * The principals the rule can match at all, when every source of its `from` lists exact
   * principals only (a caller outside them fails `from`); undefined otherwise.
   */
  readonly exactPrincipals: readonly string[] | undefined;
  /**
   * The path keys (`pathKeyOf` of the lower-case path) of every request the rule's `to` can match,
   * when each of its operations names paths and every path pattern fixes the first two segments;
   * undefined otherwise.
   */
  readonly pathKeys: readonly string[] | undefined;
  readonly from: readonly CompiledSource[];
  readonly to: readonly CompiledOperation[];
  /** The rule's roles resolved by name (undefined: no such role, which grants nothing). */
  readonly roles: readonly (CompiledRole | undefined)[];
  readonly when: readonly Condition[];
}

/** The verdict a deciding rule gives: nothing came closer than a rule that matched. */
export type RuleVerdict = Verdict & { readonly closest: readonly NearMiss[] };

const NO_MISSES: readonly NearMiss[] = Object.freeze([]);

function verdictOf(policy: Policy, rule: Rule): RuleVerdict | undefined {
  const { action } = policy;
  if (action === 'AUDIT') return undefined;
  return Object.freeze({
    outcome: action === 'ALLOW' ? 'allow' : 'deny',
    decidedBy: Object.freeze({ kind: 'policy', policy: policy.name, rule: rule.name, action }),
    why: `${action} policy "${policy.name}" rule "${rule.name}" matches`,
    closest: NO_MISSES,
  });
}

/** Compiles the rules of one policy of `set` (roles are resolved in `set`). */
export function compilePolicyRules(set: PolicySet, policy: Policy): CompiledRule[] {
  const mode: MatchMode = policy.action === 'ALLOW' ? 'strict' : 'loose';
  return policy.rules.map((rule) => {
    const exact =
      rule.from.length > 0 &&
      rule.from.every((s) => s.principals.length > 0 && s.principals.every(isExact));
    return {
      policy,
      rule,
      mode,
      ref: Object.freeze({ policy: policy.name, rule: rule.name, action: policy.action }),
      verdict: verdictOf(policy, rule),
      exactPrincipals: exact
        ? [...new Set(rule.from.flatMap((s) => s.principals.filter(isExact).map((p) => p.value)))]
        : undefined,
      pathKeys: pathKeysOf(rule),
      from: rule.from.map(compileSource),
      to: rule.to.map(compileOperation),
      roles: rule.roles.map((name) => {
        const role = set.roles.get(name);
        return role === undefined
          ? undefined
          : {
              principals: role.principals.map((p) => compileString(p, false)),
              permissions: role.permissions.map(compileOperation),
            };
      }),
      when: rule.when,
    };
  });
}

function pathKeysOf(rule: Rule): string[] | undefined {
  if (rule.to.length === 0) return undefined;
  const keys = new Set<string>();
  for (const o of rule.to) {
    if (o.paths.length === 0) return undefined;
    for (const p of o.paths) {
      const key = patternKey(p);
      if (key === undefined) return undefined;
      keys.add(key);
    }
  }
  return [...keys];
}

/**
 * The key every path (or path without its trailing slash) that matches `p` has, compared in lower
 * case: an exact path's first two segments, those of a prefix when both end in a slash within it,
 * a template's first two segments when both are literal.
 */
function patternKey(p: PathPattern): string | undefined {
  switch (p.kind) {
    case 'any':
    case 'suffix':
      return undefined;
    case 'exact':
      return pathKeyOf(p.value.toLowerCase());
    case 'prefix': {
      const v = p.value.toLowerCase();
      const key = pathKeyOf(v);
      // `/api/1` also starts `/api/10`: only a segment closed by a slash is fixed.
      return key !== undefined && v.length > key.length + 1 ? key : undefined;
    }
    case 'template': {
      const [first, second] = p.segments;
      return typeof first === 'string' && typeof second === 'string'
        ? `${first.toLowerCase()}/${second.toLowerCase()}`
        : undefined;
    }
  }
}

const isExact = (p: StringPattern): p is Extract<StringPattern, { kind: 'exact' }> =>
  p.kind === 'exact';

function compileString(p: StringPattern, fold: boolean): CompiledString {
  if (p.kind === 'any') return { kind: 'any' };
  const value = fold ? p.value.toLowerCase() : p.value;
  if (p.kind !== 'prefix') return { kind: p.kind, value };
  return { kind: 'prefix', value, bare: value.endsWith('/') ? value.slice(0, -1) : undefined };
}

function compilePath(p: PathPattern, fold: boolean): CompiledPath {
  if (p.kind !== 'template') return compileString(p, fold);
  return {
    kind: 'template',
    segments: p.segments.map((s) =>
      typeof s === 'string' ? (fold ? s.toLowerCase() : s) : s.wildcard === '*' ? ONE : ANY,
    ),
  };
}

function compileHost(h: HostPattern): CompiledHost {
  return { port: h.port, name: compileString(h.name, true) };
}

function compileOperation(o: Operation): CompiledOperation {
  return {
    hosts: o.hosts.map(compileHost),
    notHosts: o.notHosts.map(compileHost),
    methods: o.methods,
    methodsUpper: o.methods.map((m) => m.toUpperCase()),
    notMethods: o.notMethods,
    notMethodsUpper: o.notMethods.map((m) => m.toUpperCase()),
    ignoreCase: o.ignoreCase,
    paths: o.paths.map((p) => compilePath(p, o.ignoreCase)),
    notPaths: o.notPaths.map((p) => compilePath(p, o.ignoreCase)),
    ports: o.ports,
    notPorts: o.notPorts,
  };
}

function compileSource(s: Source): CompiledSource {
  return {
    principals: s.principals.map((p) => compileString(p, false)),
    notPrincipals: s.notPrincipals.map((p) => compileString(p, false)),
    trustDomains: s.trustDomains,
    notTrustDomains: s.notTrustDomains,
  };
}

/** True when the rule matches the request (none of its conditions fails). */
export function ruleMatches(ctx: RequestContext, r: CompiledRule): boolean {
  if (r.from.length > 0 && !fromHolds(ctx, r)) return false;
  if (r.to.length > 0 && !toHolds(ctx, r.to, r.mode)) return false;
  if (r.roles.length > 0 && !rolesHold(ctx, r)) return false;
  for (const c of r.when) if (!conditionHolds(ctx, c, r.mode)) return false;
  return true;
}

/**
 * How many conditions of the rule fail (`from`, `to` and `roles` count one each, every `when`
 * one), counting no further than `cap`. `fromFails` says `from` is already known to fail.
 */
export function failureCount(
  ctx: RequestContext,
  r: CompiledRule,
  cap: number,
  fromFails: boolean,
): number {
  let n = 0;
  if (r.from.length > 0 && (fromFails || !fromHolds(ctx, r)) && ++n >= cap) return n;
  if (r.to.length > 0 && !toHolds(ctx, r.to, r.mode) && ++n >= cap) return n;
  if (r.roles.length > 0 && !rolesHold(ctx, r) && ++n >= cap) return n;
  for (const c of r.when) if (!conditionHolds(ctx, c, r.mode) && ++n >= cap) return n;
  return n;
}

/** The conditions of a rule that fail for this request, in words (empty = the rule matches). */
export function ruleFailures(ctx: RequestContext, r: CompiledRule): string[] {
  const failed: string[] = [];
  const { principal } = ctx;
  const { rule } = r;
  if (r.from.length > 0 && !fromHolds(ctx, r)) {
    failed.push(
      principal === undefined
        ? 'from: the caller is not authenticated'
        : `from: caller ${principal} matches no source`,
    );
  }
  if (r.to.length > 0 && !toHolds(ctx, r.to, r.mode)) {
    failed.push(`to: ${ctx.describe} matches no operation`);
  }
  if (r.roles.length > 0 && !rolesHold(ctx, r)) {
    failed.push(
      `roles: no role of ${rule.roles.join(', ')} binds the caller and grants ${ctx.describe}`,
    );
  }
  rule.when.forEach((c, i) => {
    const problem = conditionFailure(ctx, c, r.mode);
    if (problem !== undefined) failed.push(`when[${i}]: ${problem}`);
  });
  return failed;
}

function stringMatches(p: CompiledString, v: string): boolean {
  switch (p.kind) {
    case 'any':
      return true;
    case 'exact':
      return v === p.value;
    case 'prefix':
      return v.startsWith(p.value) || v === p.bare;
    case 'suffix':
      return v.endsWith(p.value);
  }
}

function anyString(patterns: readonly CompiledString[], v: string): boolean {
  for (const p of patterns) if (stringMatches(p, v)) return true;
  return false;
}

function fromHolds(ctx: RequestContext, r: CompiledRule): boolean {
  const { principal, trustDomain } = ctx;
  if (principal === undefined || trustDomain === undefined) return false;
  for (const s of r.from) {
    if (s.principals.length > 0 && !anyString(s.principals, principal)) continue;
    if (anyString(s.notPrincipals, principal)) continue;
    if (s.trustDomains.length > 0 && !s.trustDomains.includes(trustDomain)) continue;
    if (!s.notTrustDomains.includes(trustDomain)) return true;
  }
  return false;
}

function toHolds(
  ctx: RequestContext,
  operations: readonly CompiledOperation[],
  mode: MatchMode,
): boolean {
  for (const o of operations) if (operationMatches(ctx, o, mode)) return true;
  return false;
}

function rolesHold(ctx: RequestContext, r: CompiledRule): boolean {
  const { principal } = ctx;
  if (principal === undefined) return false;
  for (const role of r.roles) {
    if (role === undefined || !anyString(role.principals, principal)) continue;
    if (toHolds(ctx, role.permissions, r.mode)) return true;
  }
  return false;
}

function operationMatches(ctx: RequestContext, o: CompiledOperation, mode: MatchMode): boolean {
  // Methods first: the cheapest test, and the one most rules differ in.
  if (o.methods.length > 0 && !methodIn(ctx, o.methods, o.methodsUpper, mode)) return false;
  if (o.notMethods.length > 0 && methodIn(ctx, o.notMethods, o.notMethodsUpper, mode)) {
    return false;
  }
  const dport = ctx.req.destination.port;
  if (o.ports.length > 0 && !o.ports.includes(dport)) return false;
  if (o.notPorts.includes(dport)) return false;
  if (o.hosts.length > 0 && !anyHost(ctx, o.hosts)) return false;
  if (o.notHosts.length > 0 && anyHost(ctx, o.notHosts)) return false;
  if (o.paths.length > 0 && !anyPath(ctx, o.paths, o.ignoreCase)) return false;
  return !(o.notPaths.length > 0 && anyPath(ctx, o.notPaths, o.ignoreCase));
}

/** Methods are case-sensitive (RFC 9110); a DENY also catches `delete` for DELETE. */
function methodIn(
  ctx: RequestContext,
  methods: readonly string[],
  upper: readonly string[],
  mode: MatchMode,
): boolean {
  return mode === 'strict'
    ? methods.includes(ctx.req.request.method)
    : upper.includes(ctx.methodUpper);
}

function anyHost(ctx: RequestContext, hosts: readonly CompiledHost[]): boolean {
  for (const h of hosts) {
    if (h.port !== undefined && h.port !== ctx.hostPort) continue;
    if (h.name.kind === 'any' || stringMatches(h.name, ctx.hostNameLower)) return true;
  }
  return false;
}

/** A path pattern matches the path or, when it ends in a slash, the path without it. */
function anyPath(ctx: RequestContext, paths: readonly CompiledPath[], fold: boolean): boolean {
  const path = fold ? ctx.pathLower : ctx.path;
  const trimmed = fold ? ctx.pathTrimmedLower : ctx.pathTrimmed;
  for (const p of paths) {
    if (p.kind === 'template') {
      // Segments are read from index 1, after the leading slash.
      if (matchTemplate(p.segments, 0, path, 1)) return true;
      if (trimmed !== undefined && matchTemplate(p.segments, 0, trimmed, 1)) return true;
    } else if (stringMatches(p, path) || (trimmed !== undefined && stringMatches(p, trimmed))) {
      return true;
    }
  }
  return false;
}

/**
 * Whether the segments of `path` from `at` on match the template from `pi` on. `path` is read as
 * `path.split('/').slice(1)` would give it, without splitting: `at` is the start of a segment, or
 * `path.length + 1` once none is left. A case-insensitive template is matched against the
 * lower-case path: normalized paths are ASCII, so that equals lower-casing each segment.
 */
function matchTemplate(
  pattern: readonly TemplatePart[],
  pi: number,
  path: string,
  at: number,
): boolean {
  const done = at > path.length;
  if (pi === pattern.length) return done;
  const head = pattern[pi];
  if (head === ANY) {
    for (let i = at; ; i = segmentEnd(path, i) + 1) {
      if (matchTemplate(pattern, pi + 1, path, i)) return true;
      if (i > path.length) return false;
    }
  }
  if (done) return false;
  const end = segmentEnd(path, at);
  if (head === ONE) return end > at && matchTemplate(pattern, pi + 1, path, end + 1);
  return (
    end - at === (head as string).length &&
    path.startsWith(head as string, at) &&
    matchTemplate(pattern, pi + 1, path, end + 1)
  );
}

/** The index of the slash that ends the segment starting at `at`, or the path's length. */
function segmentEnd(path: string, at: number): number {
  const slash = path.indexOf('/', at);
  return slash < 0 ? path.length : slash;
}

function conditionHolds(ctx: RequestContext, c: Condition, mode: MatchMode): boolean {
  switch (c.kind) {
    case 'header':
      return valuesHold(ctx.header(c.name), c.values, c.notValues, mode);
    case 'claim': {
      const claim = claimValues(ctx.req.request.auth?.claims, c.path);
      if (claim === undefined) return c.values.length === 0;
      return claimHolds(claim, c.values, c.notValues);
    }
    case 'sourceIp': {
      const a = ctx.address;
      if (a === undefined) return mode === 'loose';
      return (
        (c.values.length === 0 || c.values.some((n) => inCidr(n, a))) &&
        !c.notValues.some((n) => inCidr(n, a))
      );
    }
    case 'attribute': {
      const attrs = c.of === 'source' ? ctx.req.source.attributes : ctx.req.destination.attributes;
      const v = attrs?.[c.name];
      if (v === undefined) return c.values.length === 0;
      return (c.values.length === 0 || c.values.includes(v)) && !c.notValues.includes(v);
    }
    case 'time':
      return inTimeWindow(ctx, c);
    case 'expression': {
      const v = evaluateExpression(c.expression, (path) => resolveAttribute(ctx, path));
      // An error never allows; in a DENY or AUDIT rule it counts as a match (fail closed).
      return v === true || (v !== false && mode === 'loose');
    }
  }
}

/** Why a condition fails, or undefined when it holds. */
function conditionFailure(ctx: RequestContext, c: Condition, mode: MatchMode): string | undefined {
  if (conditionHolds(ctx, c, mode)) return undefined;
  switch (c.kind) {
    case 'header':
      return ctx.header(c.name).length === 0
        ? `header ${c.name} is absent`
        : `header ${c.name} does not match`;
    case 'claim':
      return claimValues(ctx.req.request.auth?.claims, c.path) === undefined
        ? `claim ${c.path.join('.')} is absent`
        : `claim ${c.path.join('.')} does not match`;
    case 'sourceIp':
      return ctx.address === undefined
        ? 'the source address is unknown'
        : `source address ${ctx.req.source.address ?? ''} is not in range`;
    case 'attribute': {
      const attrs = c.of === 'source' ? ctx.req.source.attributes : ctx.req.destination.attributes;
      const v = attrs?.[c.name];
      const what = `${c.of}.attributes.${c.name}`;
      return v === undefined ? `${what} is not declared` : `${what} is "${v}"`;
    }
    case 'time':
      return 'outside the time window';
    case 'expression': {
      const v = evaluateExpression(c.expression, (path) => resolveAttribute(ctx, path));
      if (v === false) return `expression is false: ${c.text}`;
      const message = v instanceof ExpressionError ? v.message : 'the result is not a boolean';
      return `expression failed (${message}): ${c.text}`;
    }
  }
}

function inTimeWindow(ctx: RequestContext, c: Extract<Condition, { kind: 'time' }>): boolean {
  const t = ctx.req.time;
  const day = t.getUTCDay();
  const minute = t.getUTCHours() * 60 + t.getUTCMinutes();
  const inWindow =
    c.start < c.end ? minute >= c.start && minute < c.end : minute >= c.start || minute < c.end;
  return c.days.includes(day) && inWindow;
}

function valueHolds(
  v: string,
  values: readonly StringPattern[],
  notValues: readonly StringPattern[],
): boolean {
  if (values.length > 0 && !values.some((p) => matchString(p, v))) return false;
  return !notValues.some((p) => matchString(p, v));
}

/**
 * Whether a multi-valued header satisfies `values`/`notValues`. Strict: every value, read whole,
 * must satisfy them. Loose: some value, or some comma-separated part of one, must — so neither a
 * repeated header nor one joined with commas can slip past a DENY.
 */
function valuesHold(
  present: readonly string[],
  values: readonly StringPattern[],
  notValues: readonly StringPattern[],
  mode: MatchMode,
): boolean {
  if (present.length === 0) return values.length === 0;
  if (mode === 'strict') return present.every((v) => valueHolds(v, values, notValues));
  for (const v of present) {
    if (valueHolds(v, values, notValues)) return true;
    for (const part of v.split(',')) if (valueHolds(part.trim(), values, notValues)) return true;
  }
  return false;
}

function claimHolds(
  claim: readonly string[],
  values: readonly StringPattern[],
  notValues: readonly StringPattern[],
): boolean {
  return (
    (values.length === 0 || claim.some((v) => values.some((p) => matchString(p, v)))) &&
    !claim.some((v) => notValues.some((p) => matchString(p, v)))
  );
}

function claimValues(
  claims: Readonly<Record<string, unknown>> | undefined,
  path: readonly string[],
): readonly string[] | undefined {
  let v: unknown = claims;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, key)) {
      return undefined;
    }
    v = (v as Record<string, unknown>)[key];
  }
  if (typeof v === 'string') return [v];
  if (typeof v === 'number' || typeof v === 'boolean') return [String(v)];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  return undefined;
}

function resolveAttribute(ctx: RequestContext, path: readonly string[]): ExpressionValue {
  const [root, field, key] = path;
  const { req } = ctx;
  const orAbsent = (v: string | number | undefined): ExpressionValue => v ?? ABSENT;
  if (root === 'source' || root === 'destination') {
    if (field === 'attributes') {
      const attrs = root === 'source' ? req.source.attributes : req.destination.attributes;
      return orAbsent(attrs?.[key as 'team']);
    }
    if (root === 'source') {
      switch (field) {
        case 'principal':
          return orAbsent(req.source.principal);
        case 'trustDomain':
          return orAbsent(ctx.trustDomain);
        case 'address':
          return orAbsent(req.source.address);
        case 'service':
          return orAbsent(req.source.service);
        default:
          break;
      }
    } else {
      switch (field) {
        case 'principal':
          return req.destination.principal;
        case 'service':
          return orAbsent(req.destination.service);
        case 'port':
          return req.destination.port;
        default:
          break;
      }
    }
  }
  if (root === 'request') {
    switch (field) {
      case 'method':
        return req.request.method;
      case 'path':
        return ctx.path;
      case 'host':
        return ctx.hostName;
      case 'headers': {
        const values = ctx.header(key ?? '');
        if (values.length === 0) return ABSENT;
        const only = values[0] as string;
        if (values.length > 1 || only.includes(',')) {
          return new ExpressionError(`header ${key ?? ''} has several values`);
        }
        return only;
      }
      case 'auth': {
        let v: unknown = req.request.auth?.claims;
        for (const k of path.slice(3)) {
          if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, k)) {
            return ABSENT;
          }
          v = (v as Record<string, unknown>)[k];
        }
        return toValue(v);
      }
      default:
        break;
    }
  }
  return new ExpressionError(`unknown attribute ${path.join('.')}`);
}

function toValue(v: unknown): ExpressionValue {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(toValue);
  if (v === undefined || v === null) return ABSENT;
  return new ExpressionError('a claim that is an object cannot be compared');
}

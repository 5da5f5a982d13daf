// The evaluator as it was first written, rule by rule over every policy, kept unchanged as the
// oracle of the equivalence test (evaluate-equivalence.test.ts): the indexed evaluator in
// evaluate-request.ts must decide every request exactly as this one does. Not used in production.
import type { Decision, NearMiss, RuleRef, Verdict } from '../model/decision.js';
import type {
  AuthzRequest,
  Condition,
  Operation,
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
import {
  type MatchMode,
  inCidr,
  matchHost,
  matchPath,
  matchString,
  parseIpBytes,
} from './match-patterns.js';
import { normalizeHost } from './normalize-host.js';
import { normalizePath } from './normalize-path.js';

/** How many near misses a deny reports. */
const CLOSEST = 3;

interface Context {
  readonly set: PolicySet;
  readonly req: AuthzRequest;
  readonly host: { readonly name: string; readonly port?: number };
  readonly path: string;
  readonly trustDomain?: string;
  readonly address?: readonly number[];
  readonly headers: ReadonlyMap<string, readonly string[]>;
}

/** The reference decision of one request: every rule of every policy, in Istio's order. */
export function evaluateRequestReference(set: PolicySet, req: AuthzRequest): Decision {
  const path = normalizePath(req.request.path);
  const host = normalizeHost(req.request.host);
  if (!path.ok || !host.ok) {
    const reason = !path.ok ? path.reason : !host.ok ? host.reason : '';
    return {
      outcome: 'deny',
      decidedBy: { kind: 'request' },
      why: `refused before any policy: ${reason}`,
      audit: [],
      closest: [],
    };
  }
  const principal = req.source.principal;
  const td = principal === undefined ? undefined : trustDomainOf(principal);
  const address = req.source.address === undefined ? undefined : parseIpBytes(req.source.address);
  const ctx: Context = {
    set,
    req,
    host: host.port === undefined ? { name: host.name } : { name: host.name, port: host.port },
    path: path.path,
    ...(td !== undefined && { trustDomain: td }),
    ...(address !== undefined && { address }),
    headers: headerMap(req.request.headers),
  };
  const applicable = set.policies.filter((p) => applies(p, req));
  const enforced = applicable.filter((p) => !p.dryRun);
  const dry = applicable.filter((p) => p.dryRun && p.action !== 'AUDIT');
  const audit = applicable
    .filter((p) => p.action === 'AUDIT')
    .flatMap((p) => matchingRules(ctx, p).map((rule) => ref(p, rule)));
  const verdict = decide(ctx, enforced);
  const normalized = {
    host: host.port === undefined ? host.name : `${host.name}:${host.port}`,
    path: path.path,
  };
  const decision: Decision = {
    outcome: verdict.outcome,
    decidedBy: verdict.decidedBy,
    why: verdict.why,
    audit,
    closest: verdict.closest,
    normalized,
  };
  if (dry.length === 0) return decision;
  const shadow = decide(ctx, [...enforced, ...dry]);
  const matches = dry.flatMap((p) => matchingRules(ctx, p).map((rule) => ref(p, rule)));
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

function ref(p: Policy, rule: Rule): RuleRef {
  return { policy: p.name, rule: rule.name, action: p.action };
}

function decide(
  ctx: Context,
  policies: readonly Policy[],
): Verdict & { closest: readonly NearMiss[] } {
  for (const p of policies) {
    if (p.action !== 'DENY') continue;
    const rule = matchingRules(ctx, p)[0];
    if (rule !== undefined) {
      return {
        outcome: 'deny',
        decidedBy: { kind: 'policy', policy: p.name, rule: rule.name, action: 'DENY' },
        why: `DENY policy "${p.name}" rule "${rule.name}" matches`,
        closest: [],
      };
    }
  }
  const allow = policies.filter((p) => p.action === 'ALLOW');
  if (allow.length === 0) {
    const dest = trustDomainOf(ctx.req.destination.principal);
    if (ctx.set.defaultAction === 'DENY') {
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
  const misses: NearMiss[] = [];
  for (const p of allow) {
    for (const rule of p.rules) {
      const failed = ruleFailures(ctx, rule, 'strict');
      if (failed.length === 0) {
        return {
          outcome: 'allow',
          decidedBy: { kind: 'policy', policy: p.name, rule: rule.name, action: 'ALLOW' },
          why: `ALLOW policy "${p.name}" rule "${rule.name}" matches`,
          closest: [],
        };
      }
      misses.push({ policy: p.name, rule: rule.name, failed });
    }
  }
  const closest = misses
    .map((m, i) => ({ m, i }))
    .sort((a, b) => a.m.failed.length - b.m.failed.length || a.i - b.i)
    .slice(0, CLOSEST)
    .map(({ m }) => m);
  const first = closest[0];
  return {
    outcome: 'deny',
    decidedBy: { kind: 'no-allow-match' },
    why:
      first === undefined
        ? `no rule of the ALLOW policies ${allow.map((p) => `"${p.name}"`).join(', ')} matches (they have no rules)`
        : `no ALLOW rule matches; closest: "${first.policy}" rule "${first.rule}" (${first.failed.join('; ')})`,
    closest,
  };
}

function matchingRules(ctx: Context, p: Policy): Rule[] {
  const mode: MatchMode = p.action === 'ALLOW' ? 'strict' : 'loose';
  return p.rules.filter((rule) => ruleFailures(ctx, rule, mode).length === 0);
}

function applies(p: Policy, req: AuthzRequest): boolean {
  const s = p.selector;
  if (s === undefined) return true;
  const service = req.destination.service;
  if (service !== undefined && s.services.includes(service)) return true;
  return s.spiffeIds.some((pattern) => matchString(pattern, req.destination.principal));
}

/** The conditions of a rule that fail for this request (empty = the rule matches). */
function ruleFailures(ctx: Context, rule: Rule, mode: MatchMode): string[] {
  const failed: string[] = [];
  const principal = ctx.req.source.principal;
  if (rule.from.length > 0 && !rule.from.some((s) => sourceMatches(ctx, s))) {
    failed.push(
      principal === undefined
        ? 'from: the caller is not authenticated'
        : `from: caller ${principal} matches no source`,
    );
  }
  if (rule.to.length > 0 && !rule.to.some((o) => operationMatches(ctx, o, mode))) {
    failed.push(`to: ${describeRequest(ctx)} matches no operation`);
  }
  if (rule.roles.length > 0 && !rule.roles.some((r) => roleGrants(ctx, r, mode))) {
    failed.push(
      `roles: no role of ${rule.roles.join(', ')} binds the caller and grants ${describeRequest(ctx)}`,
    );
  }
  rule.when.forEach((c, i) => {
    const problem = conditionFailure(ctx, c, mode);
    if (problem !== undefined) failed.push(`when[${i}]: ${problem}`);
  });
  return failed;
}

function describeRequest(ctx: Context): string {
  const port = ctx.host.port === undefined ? '' : `:${ctx.host.port}`;
  return `${ctx.req.request.method} ${ctx.host.name}${port}${ctx.path}`;
}

function sourceMatches(ctx: Context, s: Source): boolean {
  const principal = ctx.req.source.principal;
  const td = ctx.trustDomain;
  if (principal === undefined || td === undefined) return false;
  if (s.principals.length > 0 && !s.principals.some((p) => matchString(p, principal))) return false;
  if (s.notPrincipals.some((p) => matchString(p, principal))) return false;
  if (s.trustDomains.length > 0 && !s.trustDomains.includes(td)) return false;
  return !s.notTrustDomains.includes(td);
}

function operationMatches(ctx: Context, o: Operation, mode: MatchMode): boolean {
  const { name, port } = ctx.host;
  if (o.hosts.length > 0 && !o.hosts.some((h) => matchHost(h, name, port))) return false;
  if (o.notHosts.some((h) => matchHost(h, name, port))) return false;
  // Methods are case-sensitive (RFC 9110); a DENY also catches `delete` for DELETE.
  const method = ctx.req.request.method;
  const sameMethod = (m: string) =>
    mode === 'strict' ? m === method : m.toUpperCase() === method.toUpperCase();
  if (o.methods.length > 0 && !o.methods.some(sameMethod)) return false;
  if (o.notMethods.some(sameMethod)) return false;
  if (o.paths.length > 0 && !o.paths.some((p) => matchPath(p, ctx.path, o.ignoreCase))) {
    return false;
  }
  if (o.notPaths.some((p) => matchPath(p, ctx.path, o.ignoreCase))) return false;
  const dport = ctx.req.destination.port;
  if (o.ports.length > 0 && !o.ports.includes(dport)) return false;
  return !o.notPorts.includes(dport);
}

function roleGrants(ctx: Context, name: string, mode: MatchMode): boolean {
  const role = ctx.set.roles.get(name);
  const principal = ctx.req.source.principal;
  if (role === undefined || principal === undefined) return false;
  if (!role.principals.some((p) => matchString(p, principal))) return false;
  return role.permissions.some((o) => operationMatches(ctx, o, mode));
}

/** Why a condition fails, or undefined when it holds. */
function conditionFailure(ctx: Context, c: Condition, mode: MatchMode): string | undefined {
  switch (c.kind) {
    case 'header': {
      const values = ctx.headers.get(c.name) ?? [];
      return valuesHold(values, c.values, c.notValues, mode, true)
        ? undefined
        : values.length === 0
          ? `header ${c.name} is absent`
          : `header ${c.name} does not match`;
    }
    case 'claim': {
      const claim = claimValues(ctx.req.request.auth?.claims, c.path);
      if (claim === undefined) {
        return c.values.length === 0 ? undefined : `claim ${c.path.join('.')} is absent`;
      }
      const ok =
        (c.values.length === 0 || claim.some((v) => c.values.some((p) => matchString(p, v)))) &&
        !claim.some((v) => c.notValues.some((p) => matchString(p, v)));
      return ok ? undefined : `claim ${c.path.join('.')} does not match`;
    }
    case 'sourceIp': {
      const a = ctx.address;
      if (a === undefined) {
        return mode === 'loose' ? undefined : 'the source address is unknown';
      }
      const ok =
        (c.values.length === 0 || c.values.some((n) => inCidr(n, a))) &&
        !c.notValues.some((n) => inCidr(n, a));
      return ok ? undefined : `source address ${ctx.req.source.address ?? ''} is not in range`;
    }
    case 'attribute': {
      const attrs = c.of === 'source' ? ctx.req.source.attributes : ctx.req.destination.attributes;
      const v = attrs?.[c.name];
      const what = `${c.of}.attributes.${c.name}`;
      if (v === undefined) return c.values.length === 0 ? undefined : `${what} is not declared`;
      const ok = (c.values.length === 0 || c.values.includes(v)) && !c.notValues.includes(v);
      return ok ? undefined : `${what} is "${v}"`;
    }
    case 'time': {
      const t = ctx.req.time;
      const day = t.getUTCDay();
      const minute = t.getUTCHours() * 60 + t.getUTCMinutes();
      const inWindow =
        c.start < c.end ? minute >= c.start && minute < c.end : minute >= c.start || minute < c.end;
      return c.days.includes(day) && inWindow ? undefined : 'outside the time window';
    }
    case 'expression': {
      const v = evaluateExpression(c.expression, (path) => resolveAttribute(ctx, path));
      if (v === true) return undefined;
      if (v === false) return `expression is false: ${c.text}`;
      const message = v instanceof ExpressionError ? v.message : 'the result is not a boolean';
      // An error never allows; in a DENY or AUDIT rule it counts as a match (fail closed).
      return mode === 'loose' ? undefined : `expression failed (${message}): ${c.text}`;
    }
  }
}

/**
 * Whether a multi-valued attribute satisfies `values`/`notValues`. Strict: every value, read whole,
 * must satisfy them. Loose: some value, or some comma-separated part of one, must — so neither a
 * repeated header nor one joined with commas can slip past a DENY.
 */
function valuesHold(
  present: readonly string[],
  values: readonly StringPattern[],
  notValues: readonly StringPattern[],
  mode: MatchMode,
  splitCommas: boolean,
): boolean {
  if (present.length === 0) return values.length === 0;
  const ok = (v: string) =>
    (values.length === 0 || values.some((p) => matchString(p, v))) &&
    !notValues.some((p) => matchString(p, v));
  if (mode === 'strict') return present.every(ok);
  const readings = splitCommas
    ? present.flatMap((v) => [v, ...v.split(',').map((s) => s.trim())])
    : present;
  return readings.some(ok);
}

function claimValues(
  claims: Readonly<Record<string, unknown>> | undefined,
  path: readonly string[],
): string[] | undefined {
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

function resolveAttribute(ctx: Context, path: readonly string[]): ExpressionValue {
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
        return ctx.host.name;
      case 'headers': {
        const values = ctx.headers.get(key ?? '');
        if (values === undefined || values.length === 0) return ABSENT;
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

function headerMap(
  headers: Readonly<Record<string, string | readonly string[]>>,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    const list = out.get(key) ?? [];
    if (typeof value === 'string') list.push(value);
    else list.push(...value);
    out.set(key, list);
  }
  return out;
}

function trustDomainOf(spiffeId: string): string | undefined {
  const m = /^spiffe:\/\/([^/]+)(\/|$)/.exec(spiffeId);
  return m?.[1];
}

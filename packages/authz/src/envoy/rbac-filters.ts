// Native enforcement: a workload's authorization policies compiled into Envoy's RBAC HTTP filter,
// deciding every request exactly as `evaluateRequest` does — or, where RBAC cannot, the reasons
// the workload must be decided by the ext_authz service instead (which runs the evaluator).
import { type ProtoObject, checkMessage } from '@parley/api';
import { ParleyError, parseSpiffeId } from '@parley/core';
import { type MatchMode, matchString } from '../evaluate/match-patterns.js';
import type { Policy, PolicySet, Rule } from '../model/policy.js';
import { JWT_PAYLOAD_METADATA_KEY } from './jwt-authn-filter.js';
import { type RbacExpr, and, or, sideOf, toPermission, toPrincipal } from './rbac-expr.js';
import {
  type CompileContext,
  headerExpr,
  operationExpr,
  principalExpr,
  sourceExpr,
  sourceIpExpr,
  trustDomainExpr,
} from './rbac-match.js';
import { requestRefusalPolicies } from './rbac-request.js';

/** The workload whose inbound requests the filters decide. */
export interface EnforcementTarget {
  readonly service: string;
  readonly spiffeId: string;
  /**
   * The Service's ports, when known: a connection on another port (the sidecar's inbound
   * listener) stands for the first one, as the ext_authz adapter reads the destination port.
   * Without them a port rule tests the port the connection arrived on.
   */
  readonly ports?: readonly number[];
}

/** One entry of an HTTP connection manager's `http_filters`. */
export interface HttpFilterConfig {
  readonly name: string;
  readonly typed_config: ProtoObject;
}

/** How a workload's policies are enforced: natively by these filters, or only by ext_authz. */
export type Enforcement =
  | { readonly mode: 'native'; readonly filters: readonly HttpFilterConfig[] }
  | { readonly mode: 'external'; readonly reasons: readonly string[] };

// Dynamic-metadata key under `envoy.filters.http.jwt_authn` holding verified JWT claims (one
// definition, shared with the JWT filter's config).
export { JWT_PAYLOAD_METADATA_KEY };

/** The HTTP filter name of Envoy's RBAC filter (it appears several times in a chain). */
export const RBAC_FILTER_NAME = 'envoy.filters.http.rbac';

/** The type URL of the RBAC filter's config. */
export const RBAC_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';

/**
 * The `rules_stat_prefix` (and `shadow_rules_stat_prefix`) of each RBAC filter, in chain order:
 * stats are `http.<hcm>.rbac.<prefix>{allowed,denied,shadow_allowed,shadow_denied}` and the
 * dynamic metadata of `envoy.filters.http.rbac` has `<prefix>{enforced,shadow}_engine_result` and
 * `<prefix>{enforced,shadow}_effective_policy_id`.
 */
export const RBAC_STAT_PREFIX = {
  /** DENY: requests `normalizePath`/`normalizeHost` refuse (`parley/request/...`). */
  request: 'parley_request_',
  /** LOG: AUDIT rules; a match sets `<prefix>enforced_effective_policy_id` (no effect). */
  audit: 'parley_audit_',
  /** DENY: enforced DENY rules; shadow: with the dry-run DENY rules too. */
  deny: 'parley_deny_',
  /** ALLOW: enforced ALLOW rules or the mesh default; shadow: with the dry-run ALLOW rules too. */
  allow: 'parley_allow_',
} as const;

/** The RBAC policy of the mesh default ALLOW: callers of the workload's own trust domain. */
export const DEFAULT_ALLOW_POLICY = 'parley/default';

/**
 * The inbound HTTP filters enforcing `set` for one workload, or why only ext_authz can. The
 * filters, in order: `parley/request` denies requests the evaluator refuses before any policy;
 * AUDIT rules (LOG, never deciding); enforced DENY rules; enforced ALLOW rules or the mesh
 * default (`defaultAction: DENY`: no policy, so nothing is allowed; ALLOW: authenticated callers
 * of the workload's own trust domain). Each RBAC policy is named `<policy>/<rule>`
 * (`<policy>/<rule>/<role>` when a rule's roles must be split), so Envoy's
 * `rbac_access_denied_matched_policy[...]` names the deciding rule. When dry-run policies apply,
 * the DENY and ALLOW filters carry shadow rules with the dry-run policies enforced: the
 * request would be denied were they enforced exactly when either filter's
 * `<prefix>shadow_engine_result` is `denied` (the ALLOW filter's is absent when an enforced DENY
 * rule stopped the request, which its shadow DENY result then also reports).
 */
export function compileEnforcement(set: PolicySet, target: EnforcementTarget): Enforcement {
  const applicable = set.policies.filter((p) => appliesTo(p, target));
  const reasons: string[] = [];
  const compiled = new Map<Policy, [string, ProtoObject][]>();
  for (const p of applicable) {
    if (p.external) reasons.push(`policy "${p.name}" is marked external`);
    compiled.set(
      p,
      p.rules.flatMap((rule) => compileRule(set, p, rule, target, reasons)),
    );
  }
  if (reasons.length > 0) return { mode: 'external', reasons };

  const policiesOf = (ps: readonly Policy[]): Record<string, ProtoObject> =>
    Object.fromEntries(ps.flatMap((p) => compiled.get(p) ?? []));
  const of = (action: Policy['action'], dryRun: boolean) =>
    applicable.filter((p) => p.action === action && p.dryRun === dryRun);
  const shadow = applicable.some((p) => p.dryRun && p.action !== 'AUDIT');
  const defaultRules = (): ProtoObject => ({
    action: 'ALLOW',
    policies:
      set.defaultAction === 'DENY'
        ? {}
        : {
            [DEFAULT_ALLOW_POLICY]: {
              permissions: [{ any: true }],
              principals: [
                toPrincipal(trustDomainExpr(parseSpiffeId(target.spiffeId).trustDomain.name)),
              ],
            },
          },
  });
  const allowRules = (ps: readonly Policy[]): ProtoObject =>
    ps.length === 0 ? defaultRules() : { action: 'ALLOW', policies: policiesOf(ps) };

  const filters: HttpFilterConfig[] = [
    rbacFilter(RBAC_STAT_PREFIX.request, { action: 'DENY', policies: requestRefusalPolicies() }),
  ];
  const audit = applicable.filter((p) => p.action === 'AUDIT');
  if (audit.some((p) => (compiled.get(p) ?? []).length > 0)) {
    filters.push(
      rbacFilter(RBAC_STAT_PREFIX.audit, { action: 'LOG', policies: policiesOf(audit) }),
    );
  }
  const deny = of('DENY', false);
  const dryDeny = of('DENY', true);
  if (deny.length > 0 || dryDeny.length > 0) {
    filters.push(
      rbacFilter(
        RBAC_STAT_PREFIX.deny,
        { action: 'DENY', policies: policiesOf(deny) },
        shadow ? { action: 'DENY', policies: policiesOf([...deny, ...dryDeny]) } : undefined,
      ),
    );
  }
  const allow = of('ALLOW', false);
  filters.push(
    rbacFilter(
      RBAC_STAT_PREFIX.allow,
      allowRules(allow),
      shadow ? allowRules([...allow, ...of('ALLOW', true)]) : undefined,
    ),
  );
  for (const f of filters) {
    const problems = checkMessage(
      'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter',
      f,
    );
    if (problems.length > 0) {
      throw new ParleyError(
        'internal',
        `RBAC filter does not match Envoy's schema: ${problems.join('; ')}`,
      );
    }
  }
  return { mode: 'native', filters };
}

/** Whether `p` applies to the workload (the evaluator's selector semantics). */
function appliesTo(p: Policy, target: EnforcementTarget): boolean {
  const s = p.selector;
  if (s === undefined) return true;
  if (s.services.includes(target.service)) return true;
  return s.spiffeIds.some((pattern) => matchString(pattern, target.spiffeId));
}

function rbacFilter(
  prefix: string,
  rules: ProtoObject,
  shadowRules?: ProtoObject,
): HttpFilterConfig {
  return {
    name: RBAC_FILTER_NAME,
    typed_config: {
      '@type': RBAC_TYPE_URL,
      rules,
      rules_stat_prefix: prefix,
      ...(shadowRules !== undefined && {
        shadow_rules: shadowRules,
        shadow_rules_stat_prefix: prefix,
      }),
    },
  };
}

/**
 * One rule as RBAC policies (none when it can never match): its `from`, `to`, roles and `when`
 * conditions, all of which must hold. Caller tests go into the policy's principal, request tests
 * into its permission; a rule whose roles grant operations on particular ports becomes one
 * policy per role (a principal cannot test the destination port).
 */
function compileRule(
  set: PolicySet,
  p: Policy,
  rule: Rule,
  target: EnforcementTarget,
  reasons: string[],
): [string, ProtoObject][] {
  const where = `policy "${p.name}" rule "${rule.name}"`;
  const mode: MatchMode = p.action === 'ALLOW' ? 'strict' : 'loose';
  const ctx: CompileContext = {
    where,
    action: p.action,
    mode,
    servicePorts: target.ports,
    external: (reason) => {
      reasons.push(reason);
      return false;
    },
  };
  const whenExprs: RbacExpr[] = [];
  rule.when.forEach((c, i) => {
    switch (c.kind) {
      case 'header':
        whenExprs.push(headerExpr(ctx, c.name, c.values, c.notValues));
        break;
      case 'sourceIp':
        whenExprs.push(sourceIpExpr(ctx, c.values, c.notValues));
        break;
      case 'claim':
        // The evaluator reads a list claim only when every element is a string (else the claim
        // is absent); Envoy can test one element of a list (ListMatcher) but not all of them
        // (its CEL has no comprehensions), so a list mixing strings with other values would be
        // decided differently.
        reasons.push(
          `${where}: when[${i}] tests request.auth.claims[${c.path.join('][')}], and RBAC cannot tell a list claim of strings from one that mixes in other JSON values, which the evaluator reads as absent`,
        );
        break;
      case 'attribute':
        reasons.push(
          `${where}: when[${i}] tests ${c.of}.attributes.${c.name}, which only Parley's registry knows`,
        );
        break;
      case 'time':
        reasons.push(
          `${where}: when[${i}] is a time window, which Envoy's RBAC filter cannot test`,
        );
        break;
      case 'expression':
        reasons.push(`${where}: when[${i}] is a CEL expression of Parley's, decided by ext_authz`);
        break;
    }
  });
  const from = rule.from.length === 0 ? true : or(...rule.from.map((s) => sourceExpr(ctx, s)));
  const to = rule.to.length === 0 ? true : or(...rule.to.map((o) => operationExpr(ctx, o)));
  const roles = rule.roles.map((name): [string, RbacExpr] => {
    const role = set.roles.get(name);
    if (role === undefined) return [name, false];
    return [
      name,
      and(
        or(...role.principals.map((pattern) => principalExpr(ctx, pattern))),
        or(...role.permissions.map((o) => operationExpr(ctx, o))),
      ),
    ];
  });
  const name = `${p.name}/${rule.name}`;
  const common = [from, to, ...whenExprs];
  const rolesExpr = roles.length === 0 ? true : or(...roles.map(([, e]) => e));
  const whole = split(and(...common, rolesExpr));
  if (whole !== undefined) return policy(name, whole);
  // The roles test both the caller and the destination port: one RBAC policy per role.
  return roles.flatMap(([role, e]) => {
    const parts = split(and(...common, e));
    if (parts === undefined) {
      reasons.push(
        `${where}: role "${role}" cannot be split into an RBAC principal and permission`,
      );
      return [];
    }
    return policy(`${name}/${role}`, parts);
  });
}

/** A conjunction split into what the permission and the principal test, if it can be split. */
function split(e: RbacExpr): { permission: RbacExpr; principal: RbacExpr } | false | undefined {
  if (e === false) return false;
  const items = typeof e === 'object' && e.kind === 'and' ? e.items : [e];
  const permission: RbacExpr[] = [];
  const principal: RbacExpr[] = [];
  for (const item of items) {
    const side = sideOf(item);
    if (side === 'mixed') return undefined;
    (side === 'principal' ? principal : permission).push(item);
  }
  return { permission: and(...permission), principal: and(...principal) };
}

function policy(
  name: string,
  parts: { permission: RbacExpr; principal: RbacExpr } | false,
): [string, ProtoObject][] {
  if (parts === false || parts.permission === false || parts.principal === false) return [];
  return [
    [
      name,
      {
        permissions: [toPermission(parts.permission)],
        principals: [toPrincipal(parts.principal)],
      },
    ],
  ];
}

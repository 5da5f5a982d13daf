// The evaluator's patterns (docs/authz.md) as RBAC formulas that decide every request Envoy lets
// through exactly as `evaluateRequest` does. RBAC sees the request after Envoy's own
// normalization (`normalize_path`, `merge_slashes`, escaped slashes rejected) and after the
// `parley/request` filter has denied whatever `normalizePath`/`normalizeHost` refuse, so these
// formulas only need to be exact on paths and hosts those functions accept.
import type { ProtoObject } from '@parley/api';
import type { MatchMode } from '../evaluate/match-patterns.js';
import type {
  Cidr,
  HostPattern,
  Operation,
  PathPattern,
  PolicyAction,
  Source,
  StringPattern,
} from '../model/policy.js';
import { type RbacExpr, and, not, or } from './rbac-expr.js';
import {
  RE_TRIM_SPACE,
  fitsProgramSize,
  isPlainAscii,
  reCaseless,
  reComplement,
  reLiteral,
} from './rbac-regex.js';

/** Collects why a construct cannot be compiled exactly (then the workload goes external). */
export interface CompileContext {
  /** `policy "p" rule "r"`, the start of every reason. */
  readonly where: string;
  /** ALLOW rules match strictly, DENY and AUDIT rules loosely. */
  readonly action: PolicyAction;
  readonly mode: MatchMode;
  /** The Service's ports (first = the port a connection on the sidecar's listener stands for). */
  readonly servicePorts: readonly number[] | undefined;
  external(reason: string): false;
}

const HEX = /^[0-9A-Fa-f]$/;

const stringMatcher = (kind: 'exact' | 'prefix' | 'suffix', value: string, ignoreCase = false) =>
  ignoreCase ? { [kind]: value, ignore_case: true } : { [kind]: value };
const regexMatcher = (regex: string) => ({ safe_regex: { regex } });

const pathAtom = (matcher: ProtoObject): RbacExpr => ({ kind: 'path', matcher: { path: matcher } });
const headerAtom = (name: string, matcher: ProtoObject): RbacExpr => ({
  kind: 'header',
  matcher: { name, string_match: matcher },
});
const headerPresent = (name: string): RbacExpr => ({
  kind: 'header',
  matcher: { name, present_match: true },
});
const principalAtom = (matcher: ProtoObject): RbacExpr => ({ kind: 'principal', matcher });

/** A regex atom, or an external reason when it would exceed Envoy's RE2 program size. */
function regexAtom(
  ctx: CompileContext,
  what: string,
  regex: string,
  atom: (m: ProtoObject) => RbacExpr,
): RbacExpr {
  if (!fitsProgramSize(regex)) {
    return ctx.external(`${ctx.where}: ${what} needs a regex larger than Envoy's RE2 limit`);
  }
  return atom(regexMatcher(regex));
}

/**
 * A path pattern over Envoy's `url_path` (`matchPath`): a trailing slash is insignificant, and
 * `ignoreCase` compares ASCII case-insensitively. Envoy keeps the case of percent-escapes it does
 * not decode (`%3a`) where `normalizePath` upper-cases them (`%3A`): only a suffix pattern can end
 * inside an escape, so a suffix starting with a hex digit gets a regex that reads escapes upper-case.
 */
export function pathExpr(ctx: CompileContext, p: PathPattern, ignoreCase: boolean): RbacExpr {
  const ic = ignoreCase;
  switch (p.kind) {
    case 'any':
      return true;
    case 'exact':
      return or(
        pathAtom(stringMatcher('exact', p.value, ic)),
        p.value.endsWith('/') ? false : pathAtom(stringMatcher('exact', `${p.value}/`, ic)),
      );
    case 'prefix':
      return or(
        pathAtom(stringMatcher('prefix', p.value, ic)),
        p.value.endsWith('/') && p.value.length > 1
          ? pathAtom(stringMatcher('exact', p.value.slice(0, -1), ic))
          : false,
      );
    case 'suffix': {
      const s = p.value;
      if (ic || !HEX.test(s[0] ?? '')) {
        return or(
          pathAtom(stringMatcher('suffix', s, ic)),
          pathAtom(stringMatcher('suffix', `${s}/`, ic)),
        );
      }
      const upperHex = (c: string | undefined) => c !== undefined && /^[0-9A-F]$/.test(c);
      const alternatives = [`(?:|[^%]|.*[^%][^%])${reLiteral(s)}`];
      if (upperHex(s[0]) && upperHex(s[1])) {
        alternatives.push(
          `.*%${reCaseless(s[0] as string)}${reCaseless(s[1] as string)}${reLiteral(s.slice(2))}`,
        );
      }
      if (upperHex(s[0])) {
        alternatives.push(`.*%[0-9A-Fa-f]${reCaseless(s[0] as string)}${reLiteral(s.slice(1))}`);
      }
      return regexAtom(ctx, `path "${p.text}"`, `(?:${alternatives.join('|')})/?`, pathAtom);
    }
    case 'template': {
      const body = p.segments
        .map((s) =>
          typeof s === 'string'
            ? `/${reLiteral(s)}`
            : s.wildcard === '*'
              ? '/[^/]+'
              : '(?:/[^/]*)*',
        )
        .join('');
      return regexAtom(ctx, `path "${p.text}"`, `${ic ? '(?i)' : ''}${body}/?`, pathAtom);
    }
  }
}

/**
 * A host pattern over `:authority` as received (`matchHost` on `normalizeHost`): ASCII case is
 * ignored, one trailing dot and a default port (80, 443) do not count, a pattern without a port
 * matches any port. The authority is known to be valid here, so a name part never contains ':'.
 */
export function hostExpr(ctx: CompileContext, h: HostPattern): RbacExpr {
  if (h.name.kind === 'any' && h.port === undefined) return true;
  const port = h.port === undefined ? '(?::[0-9]*)?' : `:0*${h.port}`;
  let name: string;
  const v = reLiteral(h.name.kind === 'any' ? '' : h.name.value);
  switch (h.name.kind) {
    case 'any':
      name = '(?:\\[.*\\]|[^:]*)';
      break;
    case 'exact':
      name = `${v}\\.?`;
      break;
    case 'prefix':
      // The name (without its trailing dot) starts with the prefix and ends with a non-dot.
      name = h.name.value.endsWith('.') ? `${v}[^:]*[^:.]\\.?` : `${v}(?:[^:]*[^:.])?\\.?`;
      break;
    case 'suffix':
      name = `[^:]*${v}\\.?`;
      break;
  }
  return regexAtom(ctx, `host "${h.text}"`, `(?i)${name}${port}`, (m) =>
    headerAtom(':authority', m),
  );
}

/** A method: exact in an ALLOW rule, ASCII case-insensitive in a DENY or AUDIT rule. */
export function methodExpr(ctx: CompileContext, method: string): RbacExpr {
  return headerAtom(':method', stringMatcher('exact', method, ctx.mode === 'loose'));
}

/**
 * A destination port as the evaluator reads it: the socket's port when it is one of the Service's
 * ports, otherwise (the sidecar's inbound listener) the Service's first port.
 */
export function portExpr(ctx: CompileContext, port: number): RbacExpr {
  const ports = ctx.servicePorts;
  if (ports === undefined || ports.length === 0) return { kind: 'port', port };
  return or(
    ports.includes(port) ? { kind: 'port', port } : false,
    ports[0] === port ? not(or(...ports.map((p): RbacExpr => ({ kind: 'port', port: p })))) : false,
  );
}

/** One `to` item (or a role's permission). */
export function operationExpr(ctx: CompileContext, o: Operation): RbacExpr {
  const any = (items: readonly RbacExpr[]) => (items.length === 0 ? true : or(...items));
  return and(
    any(o.hosts.map((h) => hostExpr(ctx, h))),
    not(or(...o.notHosts.map((h) => hostExpr(ctx, h)))),
    any(o.methods.map((m) => methodExpr(ctx, m))),
    not(or(...o.notMethods.map((m) => methodExpr(ctx, m)))),
    any(o.paths.map((p) => pathExpr(ctx, p, o.ignoreCase))),
    not(or(...o.notPaths.map((p) => pathExpr(ctx, p, o.ignoreCase)))),
    any(o.ports.map((p) => portExpr(ctx, p))),
    not(or(...o.notPorts.map((p) => portExpr(ctx, p)))),
  );
}

/** An authenticated caller: a peer certificate whose URI SAN is a SPIFFE ID with a trust domain. */
export const AUTHENTICATED: RbacExpr = principalAtom(regexMatcher('(?s)spiffe://[^/]+(?:/.*)?'));

/** Callers of trust domain `td` (`spiffe://td` or `spiffe://td/…`). */
export function trustDomainExpr(td: string): RbacExpr {
  return or(
    principalAtom(stringMatcher('prefix', `spiffe://${td}/`)),
    principalAtom(stringMatcher('exact', `spiffe://${td}`)),
  );
}

/** A principal pattern (`matchString` on the caller's SPIFFE ID). */
export function principalExpr(ctx: CompileContext, p: StringPattern): RbacExpr {
  switch (p.kind) {
    case 'any':
      return AUTHENTICATED;
    case 'exact':
      return principalAtom(stringMatcher('exact', p.value));
    case 'prefix':
      return or(
        principalAtom(stringMatcher('prefix', p.value)),
        p.value.endsWith('/') ? principalAtom(stringMatcher('exact', p.value.slice(0, -1))) : false,
      );
    case 'suffix': {
      if (!isPlainAscii(p.value)) {
        return ctx.external(`${ctx.where}: principal pattern "${p.text}" is not printable ASCII`);
      }
      // The suffix lies in the ID's path, or starts at a slash of "spiffe://".
      const overlaps = ['spiffe:', 'spiffe:/']
        .map((head) => `${head}${p.value}`)
        .filter((id) => /^spiffe:\/\/[^/]+(\/|$)/.test(id))
        .map((id) => principalAtom(stringMatcher('exact', id)));
      const regex = `(?s)spiffe://[^/]+(?:/.*)?${reLiteral(p.value)}`;
      return or(regexAtom(ctx, `principal "${p.text}"`, regex, principalAtom), ...overlaps);
    }
  }
}

/** One `from` item: an authenticated caller satisfying every field given. */
export function sourceExpr(ctx: CompileContext, s: Source): RbacExpr {
  const any = (items: readonly RbacExpr[]) => (items.length === 0 ? true : or(...items));
  return and(
    AUTHENTICATED,
    any(s.principals.map((p) => principalExpr(ctx, p))),
    not(or(...s.notPrincipals.map((p) => principalExpr(ctx, p)))),
    any(s.trustDomains.map(trustDomainExpr)),
    not(or(...s.notTrustDomains.map(trustDomainExpr))),
  );
}

/** An IP network over the direct peer's address; an IPv4 block also holds IPv4-mapped IPv6. */
export function cidrExpr(c: Cidr): RbacExpr {
  const ip = (address_prefix: string, prefix_len: number): RbacExpr => ({
    kind: 'ip',
    cidr: { address_prefix, prefix_len: { value: prefix_len } },
  });
  if (c.bytes.length === 4) {
    const v4 = c.bytes.join('.');
    return or(ip(v4, c.prefixLength), ip(`::ffff:${v4}`, 96 + c.prefixLength));
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push((((c.bytes[i] ?? 0) << 8) | (c.bytes[i + 1] ?? 0)).toString(16));
  }
  return ip(groups.join(':'), c.prefixLength);
}

/** The caller's address is an IP address (not, say, a Unix socket's). */
const ADDRESS_KNOWN = or(
  { kind: 'ip', cidr: { address_prefix: '0.0.0.0', prefix_len: { value: 0 } } },
  { kind: 'ip', cidr: { address_prefix: '::', prefix_len: { value: 0 } } },
);

/**
 * A `source.ip` condition: with an unknown address it holds in a DENY or AUDIT rule and fails in
 * an ALLOW rule, as the evaluator reads it.
 */
export function sourceIpExpr(
  ctx: CompileContext,
  values: readonly Cidr[],
  notValues: readonly Cidr[],
): RbacExpr {
  const holds = and(
    values.length === 0 ? true : or(...values.map(cidrExpr)),
    not(or(...notValues.map(cidrExpr))),
  );
  return ctx.mode === 'strict' ? and(ADDRESS_KNOWN, holds) : or(not(ADDRESS_KNOWN), holds);
}

/** A header value pattern (slash-expanded) as a string matcher on one whole value. */
function wholeValue(name: string, p: StringPattern): RbacExpr {
  switch (p.kind) {
    case 'any':
      return headerPresent(name);
    case 'exact':
      return headerAtom(name, stringMatcher('exact', p.value));
    case 'prefix':
      return headerAtom(name, stringMatcher('prefix', p.value));
    case 'suffix':
      return headerAtom(name, stringMatcher('suffix', p.value));
  }
}

/** `prefix` patterns ending in "/" also match the text without it (`matchString`). */
function expandSlash(patterns: readonly StringPattern[]): StringPattern[] {
  return patterns.flatMap((p) =>
    p.kind === 'prefix' && p.value.endsWith('/')
      ? [p, { kind: 'exact', value: p.value.slice(0, -1), text: p.text }]
      : [p],
  );
}

/**
 * A `request.headers[NAME]` condition. Envoy's RBAC header matcher holds when any one value of a
 * repeated header matches. The evaluator, in an ALLOW rule, needs every value to match whole
 * (expressed as "no value matches the complement"); in a DENY or AUDIT rule any value, or any
 * comma-separated part of one (trimmed), may match. Where that cannot be said exactly with
 * regexes small enough for Envoy, the condition is refused (the workload goes external).
 */
export function headerExpr(
  ctx: CompileContext,
  name: string,
  valuesIn: readonly StringPattern[],
  notValuesIn: readonly StringPattern[],
): RbacExpr {
  const what = `request.headers[${name}]`;
  const values = expandSlash(valuesIn);
  const notValues = expandSlash(notValuesIn);
  const someValue = (patterns: readonly StringPattern[]) =>
    or(...patterns.map((p) => wholeValue(name, p)));
  if (ctx.mode === 'strict') {
    // Every value: matches some value pattern and no notValues pattern.
    const noneForbidden = not(someValue(notValues));
    if (values.length === 0) return noneForbidden;
    if (values.some((p) => p.kind === 'any')) return and(headerPresent(name), noneForbidden);
    const plain = values.filter(
      (p): p is Extract<StringPattern, { kind: 'exact' | 'prefix' }> =>
        p.kind === 'exact' || p.kind === 'prefix',
    );
    if (plain.length !== values.length || !plain.every((p) => isPlainAscii(p.value))) {
      return ctx.external(
        `${ctx.where}: ${what} in an ALLOW rule needs every value of a repeated header to match, which RBAC can only check for exact and prefix patterns of printable ASCII`,
      );
    }
    const complement = reComplement(plain);
    const someOther =
      complement === undefined
        ? false
        : regexAtom(ctx, what, complement, (m) => headerAtom(name, m));
    return and(headerPresent(name), not(someOther), noneForbidden);
  }
  if (notValues.length > 0) {
    if (values.length > 0) {
      return ctx.external(
        `${ctx.where}: ${what} with both values and notValues in a ${ctx.action} rule cannot be decided exactly by RBAC`,
      );
    }
    // Holds when absent, or when some reading (a value or a trimmed part of one) is not listed.
    if (notValues.some((p) => p.kind === 'any')) return not(headerPresent(name));
    const listed = notValues.filter(
      (p): p is Extract<StringPattern, { kind: 'exact' }> => p.kind === 'exact',
    );
    if (listed.length !== notValues.length || !listed.every((p) => isClean(p.value))) {
      return ctx.external(
        `${ctx.where}: ${what} with notValues in a ${ctx.action} rule can only be decided by RBAC for exact values of printable ASCII without commas or surrounding spaces`,
      );
    }
    const complement = reComplement(listed);
    return or(
      not(headerPresent(name)),
      complement === undefined
        ? false
        : regexAtom(ctx, what, complement, (m) => headerAtom(name, m)),
    );
  }
  return or(...values.map((p) => looseValue(ctx, name, what, p)));
}

/** Printable ASCII without commas and without surrounding whitespace. */
function isClean(value: string): boolean {
  return isPlainAscii(value) && !value.includes(',') && value === value.trim();
}

/**
 * Some value, or some comma-separated part of one after `trim()`, matches `p`. A pattern with a
 * comma, or whose whitespace would be trimmed away, can only match a whole value.
 */
function looseValue(ctx: CompileContext, name: string, what: string, p: StringPattern): RbacExpr {
  if (p.kind === 'any') return headerPresent(name);
  const v = p.value;
  const hasComma = v.includes(',');
  const leadingSpace = v !== v.trimStart();
  const trailingSpace = v !== v.trimEnd();
  const whole = wholeValue(name, p);
  const s = `${RE_TRIM_SPACE}*`;
  // A part regex also matches a whole value equal to (starting, ending with) the pattern.
  const part = (regex: string) => regexAtom(ctx, what, `(?s)${regex}`, (m) => headerAtom(name, m));
  if (!isPlainAscii(v)) {
    return ctx.external(`${ctx.where}: ${what} pattern "${p.text}" is not printable ASCII`);
  }
  switch (p.kind) {
    case 'exact':
      return hasComma || leadingSpace || trailingSpace
        ? whole
        : part(`(?:.*,)?${s}${reLiteral(v)}${s}(?:,.*)?`);
    case 'prefix':
      if (hasComma || leadingSpace) return whole;
      if (trailingSpace) {
        return ctx.external(
          `${ctx.where}: ${what} prefix "${p.text}" ends in whitespace, which RBAC cannot match in a comma-separated part`,
        );
      }
      return part(`(?:.*,)?${s}${reLiteral(v)}.*`);
    case 'suffix':
      if (hasComma || trailingSpace) return whole;
      if (leadingSpace) {
        return ctx.external(
          `${ctx.where}: ${what} suffix "${p.text}" starts with whitespace, which RBAC cannot match in a comma-separated part`,
        );
      }
      return part(`.*${reLiteral(v)}${s}(?:,.*)?`);
  }
}

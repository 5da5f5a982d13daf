// A model of Envoy 1.40's RBAC HTTP filter as the agreement test (e2e/authz-rbac) observed it,
// for unit tests that check many more requests than a real Envoy run can: a repeated header
// matches when any one value does (an absent one never), `url_path` drops the query, regexes are
// RE2 over bytes (Latin-1), a DENY filter stops at its first matching policy (in name order), an
// ALLOW filter when none matches, a LOG filter never stops; shadow rules only report. It covers
// the matchers `compileEnforcement` emits, not all of RBAC.
import type { HttpFilterConfig } from './rbac-filters.js';

/** A request as the RBAC filters see it, after Envoy's own normalization. */
export interface SimulatedRequest {
  /** `:path` as Envoy forwards it (query included). */
  readonly path: string;
  readonly authority: string;
  readonly method: string;
  /** Lower-case names; each value as one header line carried it. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  /** The URI SAN of the peer certificate, if the connection is authenticated. */
  readonly principal?: string;
  /** The direct peer's IP address. */
  readonly address: string;
  /** The port the connection arrived on. */
  readonly port: number;
}

/** What the filter chain did: the outcome, who denied, and each filter's results. */
export interface SimulatedResult {
  readonly allowed: boolean;
  /** `<filter prefix>` and policy name of the denial (`none` for an ALLOW filter). */
  readonly deniedBy?: { readonly prefix: string; readonly policy: string };
  /** `<prefix>{enforced,shadow}_{engine_result,effective_policy_id}`, as Envoy's metadata. */
  readonly metadata: Readonly<Record<string, string>>;
}

type Obj = Readonly<Record<string, unknown>>;
const obj = (v: unknown): Obj => (v ?? {}) as Obj;
const list = (v: unknown): readonly Obj[] => (v ?? []) as Obj[];
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Runs the RBAC filters of a chain, in order, on one request. */
export function simulateRbac(
  filters: readonly HttpFilterConfig[],
  req: SimulatedRequest,
): SimulatedResult {
  const metadata: Record<string, string> = {};
  for (const f of filters) {
    const config = f.typed_config;
    const prefix = text(config['rules_stat_prefix']);
    if (config['shadow_rules'] !== undefined) {
      const shadow = runEngine(obj(config['shadow_rules']), req);
      const shadowPrefix = text(config['shadow_rules_stat_prefix']);
      metadata[`${shadowPrefix}shadow_engine_result`] = shadow.allowed ? 'allowed' : 'denied';
      if (shadow.policy !== undefined) {
        metadata[`${shadowPrefix}shadow_effective_policy_id`] = shadow.policy;
      }
    }
    const rules = obj(config['rules']);
    const enforced = runEngine(rules, req);
    metadata[`${prefix}enforced_engine_result`] = enforced.allowed ? 'allowed' : 'denied';
    if (enforced.policy !== undefined) {
      metadata[`${prefix}enforced_effective_policy_id`] = enforced.policy;
    }
    if (!enforced.allowed) {
      return { allowed: false, deniedBy: { prefix, policy: enforced.policy ?? 'none' }, metadata };
    }
  }
  return { allowed: true, metadata };
}

function runEngine(rules: Obj, req: SimulatedRequest): { allowed: boolean; policy?: string } {
  const policies = obj(rules['policies']);
  const names = Object.keys(policies).sort();
  const matched = names.find((n) => policyMatches(obj(policies[n]), req));
  switch (rules['action']) {
    case 'DENY':
      return matched === undefined ? { allowed: true } : { allowed: false, policy: matched };
    case 'LOG':
      return matched === undefined ? { allowed: true } : { allowed: true, policy: matched };
    default:
      return matched === undefined ? { allowed: false } : { allowed: true, policy: matched };
  }
}

function policyMatches(policy: Obj, req: SimulatedRequest): boolean {
  return (
    list(policy['permissions']).some((p) => permission(p, req)) &&
    list(policy['principals']).some((p) => principal(p, req)) &&
    (policy['condition'] === undefined || cel(obj(policy['condition']), req) === true)
  );
}

function permission(p: Obj, req: SimulatedRequest): boolean {
  if (p['any'] === true) return true;
  if (p['and_rules'] !== undefined) {
    return list(obj(p['and_rules'])['rules']).every((q) => permission(q, req));
  }
  if (p['or_rules'] !== undefined) {
    return list(obj(p['or_rules'])['rules']).some((q) => permission(q, req));
  }
  if (p['not_rule'] !== undefined) return !permission(obj(p['not_rule']), req);
  if (p['destination_port'] !== undefined) return p['destination_port'] === req.port;
  return requestMatcher(p, req);
}

function principal(p: Obj, req: SimulatedRequest): boolean {
  if (p['any'] === true) return true;
  if (p['and_ids'] !== undefined)
    return list(obj(p['and_ids'])['ids']).every((q) => principal(q, req));
  if (p['or_ids'] !== undefined)
    return list(obj(p['or_ids'])['ids']).some((q) => principal(q, req));
  if (p['not_id'] !== undefined) return !principal(obj(p['not_id']), req);
  if (p['authenticated'] !== undefined) {
    const name = obj(p['authenticated'])['principal_name'];
    if (req.principal === undefined) return false;
    return name === undefined || stringMatches(obj(name), req.principal);
  }
  if (p['direct_remote_ip'] !== undefined) return inRange(obj(p['direct_remote_ip']), req.address);
  return requestMatcher(p, req);
}

function requestMatcher(p: Obj, req: SimulatedRequest): boolean {
  if (p['url_path'] !== undefined) {
    const q = req.path.indexOf('?');
    return stringMatches(obj(obj(p['url_path'])['path']), q < 0 ? req.path : req.path.slice(0, q));
  }
  if (p['header'] !== undefined) {
    const h = obj(p['header']);
    const name = String(h['name']);
    const values =
      name === ':authority'
        ? [req.authority]
        : name === ':method'
          ? [req.method]
          : name === ':path'
            ? [req.path]
            : (req.headers.get(name) ?? []);
    if (h['present_match'] === true) return values.length > 0;
    return values.some((v) => stringMatches(obj(h['string_match']), v));
  }
  throw new TypeError(`the simulator does not know the matcher ${Object.keys(p).join(', ')}`);
}

/** Envoy's StringMatcher on the bytes of `value` (ASCII case folding for `ignore_case`). */
function stringMatches(m: Obj, value: string): boolean {
  const bytes = Buffer.from(value, 'utf8').toString('latin1');
  const fold = (s: string) =>
    m['ignore_case'] === true ? s.replace(/[A-Z]/g, (c) => c.toLowerCase()) : s;
  const v = fold(bytes);
  if (typeof m['exact'] === 'string') return v === fold(m['exact']);
  if (typeof m['prefix'] === 'string') return v.startsWith(fold(m['prefix']));
  if (typeof m['suffix'] === 'string') return v.endsWith(fold(m['suffix']));
  if (typeof m['contains'] === 'string') return v.includes(fold(m['contains']));
  if (m['safe_regex'] !== undefined)
    return re2(String(obj(m['safe_regex'])['regex']), true).test(bytes);
  throw new TypeError(
    `the simulator does not know the string matcher ${Object.keys(m).join(', ')}`,
  );
}

/** An RE2 regex (leading `(?s)`/`(?i)` flags only) as a JavaScript one over Latin-1 text. */
function re2(regex: string, full: boolean): RegExp {
  let body = regex;
  let flags = '';
  for (let m = /^\(\?([si]+)\)/.exec(body); m !== null; m = /^\(\?([si]+)\)/.exec(body)) {
    flags += m[1];
    body = body.slice(m[0].length);
  }
  return new RegExp(full ? `^(?:${body})$` : body, flags);
}

function inRange(cidr: Obj, address: string): boolean {
  const a = ipBytes(address);
  const c = ipBytes(String(cidr['address_prefix']));
  const length = Number(obj(cidr['prefix_len'])['value'] ?? 0);
  if (a === undefined || c === undefined || a.length !== c.length) return false;
  for (let bit = 0; bit < length; bit++) {
    const mask = 0x80 >> (bit % 8);
    if (((a[bit >> 3] ?? 0) & mask) !== ((c[bit >> 3] ?? 0) & mask)) return false;
  }
  return true;
}

/** An IP address's bytes (IPv4-mapped IPv6 stays IPv6, as Envoy's CIDR ranges read it). */
function ipBytes(text: string): number[] | undefined {
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4 !== null) return v4.slice(1).map(Number);
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  let body = text;
  if (dotted !== null) {
    tail = (dotted[2] ?? '').split('.').map(Number);
    body = `${dotted[1] ?? ''}0:0`;
  }
  const [left = '', right] = body.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const l = groups(left);
  const r = right === undefined ? [] : groups(right);
  const all = [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r];
  if (all.length !== 8) return undefined;
  const bytes = all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]);
  if (tail.length > 0) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** The CEL subset the compiler emits (lengths of `request.url_path` and `request.host`). */
function cel(e: Obj, req: SimulatedRequest): unknown {
  if (e['const_expr'] !== undefined) {
    const c = obj(e['const_expr']);
    if (c['int64_value'] !== undefined) return Number(c['int64_value']);
    if (c['string_value'] !== undefined) return c['string_value'];
    return c['bool_value'];
  }
  if (e['ident_expr'] !== undefined) return { ident: obj(e['ident_expr'])['name'] };
  if (e['select_expr'] !== undefined) {
    const s = obj(e['select_expr']);
    const field = String(s['field']);
    if (field === 'url_path') {
      const q = req.path.indexOf('?');
      return q < 0 ? req.path : req.path.slice(0, q);
    }
    if (field === 'host') return req.authority;
    throw new TypeError(`the simulator does not know request.${field}`);
  }
  const call = obj(e['call_expr']);
  const args = list(call['args']);
  const arg = (i: number) => cel(args[i] as Obj, req);
  switch (call['function']) {
    case '_&&_':
      return arg(0) === true && arg(1) === true;
    case '_||_':
      return arg(0) === true || arg(1) === true;
    case '!_':
      return arg(0) !== true;
    case '_>_':
      return Number(arg(0)) > Number(arg(1));
    case '_>=_':
      return Number(arg(0)) >= Number(arg(1));
    case 'size':
      return String(arg(0)).length;
    case 'matches':
      return re2(String(arg(0)), false).test(String(cel(obj(call['target']), req)));
    default:
      throw new TypeError(
        `the simulator does not know the CEL function ${String(call['function'])}`,
      );
  }
}

// The policies and workloads an enforcement point decides with, as one versioned value that the
// server serializes once and every agent parses at the edge (STYLE rules 1 and 6).
import {
  type JsonObject,
  type JsonValue,
  JsonNumber,
  invalidArgument,
  isJsonArray,
  isJsonObject,
  parseJson,
} from '@parley/core';
import type {
  AttributeName,
  Attributes,
  Cidr,
  Condition,
  DefaultAction,
  Expression,
  HostPattern,
  Operation,
  PathPattern,
  Policy,
  PolicyAction,
  PolicySet,
  Role,
  Rule,
  Selector,
  Source,
  StringPattern,
} from './policy.js';

/** A workload as the authorization decision sees it: its Service, identity, ports, attributes. */
export interface AuthzWorkload {
  readonly service: string;
  readonly spiffeId: string;
  readonly ports: readonly number[];
  readonly attributes: Attributes;
}

/** Everything an enforcement point decides with, at one mesh config version. */
export interface AuthzSnapshot {
  /** The mesh config commit the snapshot was built from. */
  readonly version: string;
  readonly policySet: PolicySet;
  /** The workloads of the mesh, by SPIFFE ID. */
  readonly workloads: ReadonlyMap<string, AuthzWorkload>;
  /** Header names any policy refers to, lower-case: what a decision record keeps. */
  readonly headerNames: readonly string[];
}

/** Largest serialized snapshot `parseAuthzSnapshot` accepts, in characters. */
export const MAX_AUTHZ_SNAPSHOT_LENGTH = 16 * 1024 * 1024;

const MAX_DEPTH = 160;
const MAX_STRING = 64 * 1024;
const MAX_VERSION = 256;
const FORMAT = 1;
const ATTRIBUTE_NAMES: readonly AttributeName[] = ['environment', 'team', 'sensitivity'];
const ACTIONS: readonly PolicyAction[] = ['ALLOW', 'DENY', 'AUDIT'];
const DEFAULT_ACTIONS: readonly DefaultAction[] = ['ALLOW', 'DENY'];

/**
 * Builds a snapshot from a policy set and the mesh's workloads; throws a TypeError when two
 * workloads share a SPIFFE ID (a bug in whoever compiled them).
 */
export function authzSnapshot(
  version: string,
  policySet: PolicySet,
  workloads: readonly AuthzWorkload[],
): AuthzSnapshot {
  const byId = new Map<string, AuthzWorkload>();
  for (const w of workloads) {
    if (byId.has(w.spiffeId)) throw new TypeError(`two workloads have SPIFFE ID ${w.spiffeId}`);
    byId.set(w.spiffeId, w);
  }
  return { version, policySet, workloads: byId, headerNames: headerNamesOf(policySet) };
}

/** The header names the policies of a set refer to (conditions and expressions), sorted. */
function headerNamesOf(set: PolicySet): string[] {
  const names = new Set<string>();
  const visit = (e: Expression): void => {
    switch (e.op) {
      case 'literal':
        return;
      case 'list':
        e.items.forEach(visit);
        return;
      case 'attribute': {
        const [root, field, name] = e.path;
        if (root === 'request' && field === 'headers' && name !== undefined) {
          names.add(name.toLowerCase());
        }
        return;
      }
      case 'not':
        visit(e.arg);
        return;
      case 'startsWith':
      case 'endsWith':
        visit(e.target);
        visit(e.arg);
        return;
      case 'and':
      case 'or':
      case '==':
      case '!=':
      case 'in':
        visit(e.left);
        visit(e.right);
        return;
    }
  };
  for (const p of set.policies) {
    for (const r of p.rules) {
      for (const c of r.when) {
        if (c.kind === 'header') names.add(c.name.toLowerCase());
        else if (c.kind === 'expression') visit(c.expression);
      }
    }
  }
  return [...names].sort();
}

/** Serializes a snapshot as JSON (roles and workloads as lists; header names are derived). */
export function serializeAuthzSnapshot(s: AuthzSnapshot): string {
  return JSON.stringify({
    format: FORMAT,
    version: s.version,
    policySet: {
      defaultAction: s.policySet.defaultAction,
      roles: [...s.policySet.roles.values()],
      policies: s.policySet.policies,
    },
    workloads: [...s.workloads.values()],
  });
}

/**
 * Parses a serialized snapshot at the edge: bounded in size and depth, strict JSON (duplicate
 * keys rejected), every field of every policy checked for shape, unknown fields rejected. Throws
 * an invalid-argument ParleyError naming the path of the first problem.
 */
export function parseAuthzSnapshot(json: string): AuthzSnapshot {
  if (json.length > MAX_AUTHZ_SNAPSHOT_LENGTH) {
    throw invalidArgument(
      `authz snapshot exceeds ${MAX_AUTHZ_SNAPSHOT_LENGTH} characters (${json.length})`,
    );
  }
  let doc: JsonValue;
  try {
    doc = parseJson(json, { maxLength: MAX_AUTHZ_SNAPSHOT_LENGTH, maxDepth: MAX_DEPTH });
  } catch (err) {
    throw invalidArgument(`authz snapshot: ${(err as Error).message}`, { cause: err });
  }
  const r = new Reader(doc, '');
  const top = r.object(['format', 'version', 'policySet', 'workloads']);
  const format = top.int('format', 1, 1);
  if (format !== FORMAT) top.fail('format', `unsupported format ${format}`);
  const version = top.string('version', 1, MAX_VERSION);
  const ps = top.at('policySet').object(['defaultAction', 'roles', 'policies']);
  const defaultAction = ps.oneOf('defaultAction', DEFAULT_ACTIONS);
  const roles = new Map<string, Role>();
  ps.list('roles', (x) => {
    const role = readRole(x);
    if (roles.has(role.name)) x.fail('name', `duplicate role "${role.name}"`);
    roles.set(role.name, role);
  });
  const policies = ps.list('policies', readPolicy);
  const workloads = top.list('workloads', readWorkload);
  const seen = new Set<string>();
  workloads.forEach((w, i) => {
    if (seen.has(w.spiffeId)) {
      top
        .at('workloads')
        .item(i)
        .object(['spiffeId'], true)
        .fail('spiffeId', `duplicate workload ${w.spiffeId}`);
    }
    seen.add(w.spiffeId);
  });
  return authzSnapshot(version, { defaultAction, roles, policies }, workloads);
}

function readWorkload(r: Reader): AuthzWorkload {
  const o = r.object(['service', 'spiffeId', 'ports', 'attributes']);
  return {
    service: o.string('service', 1),
    spiffeId: o.string('spiffeId', 1),
    ports: o.list('ports', (x) => x.asInt(0, 65535)),
    attributes: readAttributes(o.at('attributes')),
  };
}

function readAttributes(r: Reader): Attributes {
  const o = r.object(ATTRIBUTE_NAMES);
  const out: Partial<Record<AttributeName, string>> = {};
  for (const name of ATTRIBUTE_NAMES) {
    if (o.has(name)) out[name] = o.string(name);
  }
  return out;
}

function readRole(r: Reader): Role {
  const o = r.object(['name', 'principals', 'permissions']);
  return {
    name: o.string('name', 1),
    principals: o.list('principals', readStringPattern),
    permissions: o.list('permissions', readOperation),
  };
}

function readPolicy(r: Reader): Policy {
  const o = r.object(['name', 'selector', 'action', 'rules', 'dryRun', 'external']);
  const selector = o.has('selector') ? readSelector(o.at('selector')) : undefined;
  return {
    name: o.string('name', 1),
    ...(selector !== undefined && { selector }),
    action: o.oneOf('action', ACTIONS),
    rules: o.list('rules', readRule),
    dryRun: o.boolean('dryRun'),
    external: o.has('external') ? o.boolean('external') : false,
  };
}

function readSelector(r: Reader): Selector {
  const o = r.object(['services', 'spiffeIds']);
  return {
    services: o.list('services', (x) => x.asString(1)),
    spiffeIds: o.list('spiffeIds', readStringPattern),
  };
}

function readRule(r: Reader): Rule {
  const o = r.object(['name', 'from', 'to', 'roles', 'when']);
  return {
    name: o.string('name', 1),
    from: o.list('from', readSource),
    to: o.list('to', readOperation),
    roles: o.list('roles', (x) => x.asString(1)),
    when: o.list('when', readCondition),
  };
}

function readSource(r: Reader): Source {
  const o = r.object(['principals', 'notPrincipals', 'trustDomains', 'notTrustDomains']);
  return {
    principals: o.list('principals', readStringPattern),
    notPrincipals: o.list('notPrincipals', readStringPattern),
    trustDomains: o.list('trustDomains', (x) => x.asString(1)),
    notTrustDomains: o.list('notTrustDomains', (x) => x.asString(1)),
  };
}

function readOperation(r: Reader): Operation {
  const o = r.object([
    'hosts',
    'notHosts',
    'methods',
    'notMethods',
    'paths',
    'notPaths',
    'ports',
    'notPorts',
    'ignoreCase',
  ]);
  const port = (x: Reader) => x.asInt(0, 65535);
  const method = (x: Reader) => x.asString(1, 64);
  return {
    hosts: o.list('hosts', readHostPattern),
    notHosts: o.list('notHosts', readHostPattern),
    methods: o.list('methods', method),
    notMethods: o.list('notMethods', method),
    paths: o.list('paths', readPathPattern),
    notPaths: o.list('notPaths', readPathPattern),
    ports: o.list('ports', port),
    notPorts: o.list('notPorts', port),
    ignoreCase: o.boolean('ignoreCase'),
  };
}

function readStringPattern(r: Reader): StringPattern {
  const kind = r
    .object(['kind', 'value', 'text'])
    .oneOf('kind', ['any', 'exact', 'prefix', 'suffix'] as const);
  if (kind === 'any') {
    const o = r.object(['kind', 'text']);
    return { kind, text: o.string('text') };
  }
  const o = r.object(['kind', 'value', 'text']);
  return { kind, value: o.string('value'), text: o.string('text') };
}

function readPathPattern(r: Reader): PathPattern {
  const kind = r.object(['kind', 'value', 'text', 'segments']).string('kind');
  if (kind !== 'template') return readStringPattern(r);
  const o = r.object(['kind', 'segments', 'text']);
  return {
    kind,
    segments: o.list('segments', (x) => {
      if (typeof x.value === 'string') return x.asString(1);
      return { wildcard: x.object(['wildcard']).oneOf('wildcard', ['*', '**'] as const) };
    }),
    text: o.string('text'),
  };
}

function readHostPattern(r: Reader): HostPattern {
  const o = r.object(['name', 'port', 'text']);
  return {
    name: readStringPattern(o.at('name')),
    ...(o.has('port') && { port: o.int('port', 0, 65535) }),
    text: o.string('text'),
  };
}

function readCidr(r: Reader): Cidr {
  const o = r.object(['bytes', 'prefixLength', 'text']);
  const bytes = o.list('bytes', (x) => x.asInt(0, 255));
  if (bytes.length !== 4 && bytes.length !== 16) o.fail('bytes', 'must hold 4 or 16 bytes');
  return {
    bytes,
    prefixLength: o.int('prefixLength', 0, bytes.length * 8),
    text: o.string('text'),
  };
}

function readCondition(r: Reader): Condition {
  const kind = r
    .object(['kind'], true)
    .oneOf('kind', ['header', 'claim', 'sourceIp', 'attribute', 'time', 'expression'] as const);
  switch (kind) {
    case 'header': {
      const o = r.object(['kind', 'name', 'values', 'notValues']);
      return {
        kind,
        name: o.string('name', 1),
        values: o.list('values', readStringPattern),
        notValues: o.list('notValues', readStringPattern),
      };
    }
    case 'claim': {
      const o = r.object(['kind', 'path', 'values', 'notValues']);
      const path = o.list('path', (x) => x.asString(1));
      if (path.length === 0) o.fail('path', 'must not be empty');
      return {
        kind,
        path,
        values: o.list('values', readStringPattern),
        notValues: o.list('notValues', readStringPattern),
      };
    }
    case 'sourceIp': {
      const o = r.object(['kind', 'values', 'notValues']);
      return { kind, values: o.list('values', readCidr), notValues: o.list('notValues', readCidr) };
    }
    case 'attribute': {
      const o = r.object(['kind', 'of', 'name', 'values', 'notValues']);
      return {
        kind,
        of: o.oneOf('of', ['source', 'destination'] as const),
        name: o.oneOf('name', ATTRIBUTE_NAMES),
        values: o.list('values', (x) => x.asString()),
        notValues: o.list('notValues', (x) => x.asString()),
      };
    }
    case 'time': {
      const o = r.object(['kind', 'days', 'start', 'end']);
      return {
        kind,
        days: o.list('days', (x) => x.asInt(0, 6)),
        start: o.int('start', 0, 24 * 60),
        end: o.int('end', 0, 24 * 60),
      };
    }
    case 'expression': {
      const o = r.object(['kind', 'text', 'expression']);
      return { kind, text: o.string('text'), expression: readExpression(o.at('expression')) };
    }
  }
}

function readExpression(r: Reader): Expression {
  const op = r
    .object(['op'], true)
    .oneOf('op', [
      'literal',
      'list',
      'attribute',
      'not',
      'and',
      'or',
      '==',
      '!=',
      'in',
      'startsWith',
      'endsWith',
    ] as const);
  switch (op) {
    case 'literal': {
      const o = r.object(['op', 'value']);
      const v = o.at('value').value;
      if (typeof v === 'string' || typeof v === 'boolean') return { op, value: v };
      return { op, value: o.int('value', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER) };
    }
    case 'list':
      return { op, items: r.object(['op', 'items']).list('items', readExpression) };
    case 'attribute': {
      const o = r.object(['op', 'path']);
      return { op, path: o.list('path', (x) => x.asString(1)) };
    }
    case 'not':
      return { op, arg: readExpression(r.object(['op', 'arg']).at('arg')) };
    case 'startsWith':
    case 'endsWith': {
      const o = r.object(['op', 'target', 'arg']);
      return { op, target: readExpression(o.at('target')), arg: readExpression(o.at('arg')) };
    }
    case 'and':
    case 'or':
    case '==':
    case '!=':
    case 'in': {
      const o = r.object(['op', 'left', 'right']);
      return { op, left: readExpression(o.at('left')), right: readExpression(o.at('right')) };
    }
  }
}

/** A cursor over parsed JSON that knows its path, for error messages that say where. */
class Reader {
  constructor(
    readonly value: JsonValue | undefined,
    readonly path: string,
  ) {}

  fail(key: string | undefined, message: string): never {
    const where = key === undefined ? this.path : this.path === '' ? key : `${this.path}.${key}`;
    throw invalidArgument(`authz snapshot: ${where === '' ? '(top)' : where}: ${message}`);
  }

  /** This value as an object with only `keys` (or, when `open`, at least them, for a peek). */
  object(keys: readonly string[], open = false): ObjectReader {
    const v = this.value;
    if (!isJsonObject(v ?? null)) return this.fail(undefined, 'expected an object');
    const map = v as JsonObject;
    if (!open) {
      for (const k of map.keys()) if (!keys.includes(k)) this.fail(k, 'unknown field');
    }
    return new ObjectReader(map, this.path);
  }

  item(index: number): Reader {
    const v = isJsonArray(this.value) ? this.value[index] : undefined;
    return new Reader(v, `${this.path}[${index}]`);
  }

  asString(min = 0, max = MAX_STRING): string {
    const v = this.value;
    if (typeof v !== 'string') return this.fail(undefined, 'expected a string');
    if (v.length < min) return this.fail(undefined, 'must not be empty');
    if (v.length > max) return this.fail(undefined, `exceeds ${max} characters`);
    return v;
  }

  asInt(min: number, max: number): number {
    const v = this.value;
    const n = v instanceof JsonNumber && v.isInteger ? v.toNumber() : undefined;
    if (n === undefined || !Number.isSafeInteger(n))
      return this.fail(undefined, 'expected an integer');
    if (n < min || n > max) return this.fail(undefined, `must be between ${min} and ${max}`);
    return n;
  }
}

/** A Reader of an object's fields. */
class ObjectReader {
  constructor(
    private readonly map: JsonObject,
    readonly path: string,
  ) {}

  fail(key: string, message: string): never {
    return new Reader(this.map, this.path).fail(key, message);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  at(key: string): Reader {
    if (!this.map.has(key)) this.fail(key, 'is required');
    return new Reader(this.map.get(key), this.path === '' ? key : `${this.path}.${key}`);
  }

  string(key: string, min = 0, max = MAX_STRING): string {
    return this.at(key).asString(min, max);
  }

  int(key: string, min: number, max: number): number {
    return this.at(key).asInt(min, max);
  }

  boolean(key: string): boolean {
    const v = this.at(key).value;
    if (typeof v !== 'boolean') return this.fail(key, 'expected true or false');
    return v;
  }

  oneOf<T extends string>(key: string, values: readonly T[]): T {
    const v = this.string(key);
    if (!(values as readonly string[]).includes(v)) {
      this.fail(key, `must be one of ${values.join(', ')}`);
    }
    return v as T;
  }

  list<T>(key: string, read: (r: Reader) => T): T[] {
    const r = this.at(key);
    const v = r.value;
    if (!isJsonArray(v)) return r.fail(undefined, 'expected a list');
    return v.map((_, i) => read(r.item(i)));
  }
}

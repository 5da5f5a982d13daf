import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Decision } from '../model/decision.js';
import type {
  AuthzRequest,
  Cidr,
  Condition,
  Expression,
  HostPattern,
  Operation,
  PathPattern,
  Policy,
  PolicyAction,
  PolicySet,
  Role,
  Rule,
  Source,
  StringPattern,
} from '../model/policy.js';
import { evaluateRequest } from './evaluate-request.js';
import { evaluateRequestReference } from './reference-evaluator.js';

// The indexed evaluator against the reference one (every rule of every policy, as first written):
// random requests over random policy sets drawn from small pools, so that rules overlap, several
// match at once, and exact, prefix, suffix and template patterns, case, trailing slashes, repeated
// and comma-joined headers, claims, addresses, attributes, time windows, expressions, roles,
// selectors, dry-run and AUDIT policies all meet. Decisions must be identical; without `explain`,
// identical but for `closest`.

/** mulberry32: seeded, so a failure names the seed that reproduces it. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(readonly random: () => number) {}
  int(n: number): number {
    return Math.floor(this.random() * n);
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  some<T>(max: number, make: () => T): T[] {
    return Array.from({ length: this.int(max + 1) }, make);
  }
}

const sp = (text: string): StringPattern =>
  text === '*'
    ? { kind: 'any', text }
    : text.startsWith('*')
      ? { kind: 'suffix', value: text.slice(1), text }
      : text.endsWith('*')
        ? { kind: 'prefix', value: text.slice(0, -1), text }
        : { kind: 'exact', value: text, text };
const pp = (text: string): PathPattern =>
  text.includes('{')
    ? {
        kind: 'template',
        segments: text
          .split('/')
          .slice(1)
          .map((s) => (s === '{*}' ? { wildcard: '*' } : s === '{**}' ? { wildcard: '**' } : s)),
        text,
      }
    : sp(text);

const A = 'spiffe://a.org';
const PRINCIPALS = [
  `${A}/svc-0`,
  `${A}/svc-1`,
  `${A}/svc-2`,
  `${A}/quarantine/q1`,
  'spiffe://b.org/svc-1',
  A,
  'not-a-spiffe-id',
];
const PRINCIPAL_PATTERNS = [
  ...PRINCIPALS.slice(0, 5),
  `${A}/svc-*`,
  `${A}/*`,
  '*-1',
  '*',
  `${A}/SVC-0`,
];
const PATHS = [
  '/api/1/items',
  '/API/1/Items',
  '/api/1/',
  '/api/1',
  '/api',
  '/api/',
  '/api/10/items',
  '/admin',
  '/admin/',
  '//admin',
  '/%61dmin',
  '/Admin',
  '/api/2/internal/keys',
  '/api/2/internal',
  '/a/b/c',
  '/',
  '/api/1/items?x=1#f',
  '/x;y',
  '/api/%2fadmin',
  '/api/2',
  '/api/2/',
  '/Api/1/x',
];
const PATH_PATTERNS = [
  '/admin',
  '/api/',
  '/api/*',
  '/api/1*',
  '/api/1/*',
  '*/items',
  '*',
  '/api/{*}/items',
  '/api/{**}',
  '/{*}/{*}/internal/{**}',
  '/API/{*}/ITEMS',
  '/{**}/items',
  '/api/{*}',
  '/{*}/{*}',
  '/{**}',
  '/',
  // Patterns that fix the first two segments (the path index keys rules by them).
  '/api/1/items',
  '/API/1/Items',
  '/api/1/',
  '/API/1/*',
  '/api/1/it*',
  '/Api/1/{*}',
  '/api/2/{**}',
  '/api/10*',
];
const METHODS = ['GET', 'POST', 'DELETE', 'delete', 'PUT'];
const HOSTS = [
  'backend',
  'backend:8080',
  'Backend',
  'backend.',
  'other:80',
  'evil@x',
  'backend:443',
];
const HOST_PATTERNS = ['backend', 'back*', '*end', '*', 'other', 'BACKEND'];
const DESTINATIONS = [
  { service: 'backend', principal: `${A}/backend` },
  { service: 'other', principal: 'spiffe://b.org/other' },
  { principal: `${A}/backend` },
];
const HEADER_VALUES: readonly (string | readonly string[])[] = [
  'admin',
  'user',
  'admin,user',
  ' admin',
  ['guest', 'user'],
  ['admin'],
];
const CIDRS: readonly Cidr[] = [
  { bytes: [10, 0, 0, 0], prefixLength: 8, text: '10.0.0.0/8' },
  { bytes: [192, 168, 1, 0], prefixLength: 24, text: '192.168.1.0/24' },
  {
    bytes: [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    prefixLength: 8,
    text: 'fd00::/8',
  },
];
const ADDRESSES = ['10.1.2.3', '192.168.1.7', '::ffff:10.0.0.1', 'fd00::1', 'bogus', '8.8.8.8'];
const attr = (...path: string[]): Expression => ({ op: 'attribute', path });
const lit = (value: string | number | boolean): Expression => ({ op: 'literal', value });
const EXPRESSIONS: readonly { text: string; expression: Expression }[] = [
  {
    text: 'x-role == admin',
    expression: { op: '==', left: attr('request', 'headers', 'x-role'), right: lit('admin') },
  },
  {
    text: 'td == a.org',
    expression: { op: '==', left: attr('source', 'trustDomain'), right: lit('a.org') },
  },
  {
    text: 'role in [admin, ops]',
    expression: {
      op: 'in',
      left: attr('request', 'auth', 'claims', 'role'),
      right: { op: 'list', items: [lit('admin'), lit('ops')] },
    },
  },
  {
    text: 'path.startsWith(/api)',
    expression: { op: 'startsWith', target: attr('request', 'path'), arg: lit('/api') },
  },
  { text: 'unknown attribute', expression: { op: '==', left: attr('nope'), right: lit(1) } },
  {
    text: '!(port == 8080) || env == prod',
    expression: {
      op: 'or',
      left: { op: 'not', arg: { op: '==', left: attr('destination', 'port'), right: lit(8080) } },
      right: {
        op: '==',
        left: attr('destination', 'attributes', 'environment'),
        right: lit('prod'),
      },
    },
  },
];
const ROLE_NAMES = ['reader', 'writer', 'ghost'];

function hostPattern(g: Gen): HostPattern {
  const text = g.pick(HOST_PATTERNS);
  const name = sp(text.toLowerCase());
  return g.chance(0.5) ? { name, port: g.pick([8080, 80, 9090]), text } : { name, text };
}

function operation(g: Gen): Operation {
  return {
    hosts: g.chance(0.4) ? g.some(2, () => hostPattern(g)) : [],
    notHosts: g.chance(0.1) ? [hostPattern(g)] : [],
    methods: g.chance(0.6) ? g.some(3, () => g.pick(METHODS)) : [],
    notMethods: g.chance(0.15) ? [g.pick(METHODS)] : [],
    paths: g.chance(0.7) ? g.some(2, () => pp(g.pick(PATH_PATTERNS))) : [],
    notPaths: g.chance(0.15) ? [pp(g.pick(PATH_PATTERNS))] : [],
    ports: g.chance(0.2) ? [g.pick([8080, 9090])] : [],
    notPorts: g.chance(0.1) ? [g.pick([8080, 9090])] : [],
    ignoreCase: g.chance(0.3),
  };
}

function source(g: Gen): Source {
  // Half of the sources list exact principals only: the rules the index buckets by caller.
  const exact = g.chance(0.5);
  return {
    principals: exact
      ? g.some(2, () => sp(g.pick(PRINCIPALS.slice(0, 5)))).concat(sp(g.pick(PRINCIPALS)))
      : g.chance(0.7)
        ? g.some(2, () => sp(g.pick(PRINCIPAL_PATTERNS)))
        : [],
    notPrincipals: g.chance(0.3) ? [sp(g.pick(PRINCIPAL_PATTERNS))] : [],
    trustDomains: g.chance(0.25) ? [g.pick(['a.org', 'b.org'])] : [],
    notTrustDomains: g.chance(0.25) ? [g.pick(['a.org', 'b.org'])] : [],
  };
}

function condition(g: Gen): Condition {
  const patterns = () => g.some(2, () => sp(g.pick(['admin', 'user', 'adm*', '*er', '*', '1'])));
  switch (g.int(6)) {
    case 0:
      return {
        kind: 'header',
        name: g.pick(['x-role', 'X-Role', 'x-debug', 'x-key']),
        values: patterns(),
        notValues: g.chance(0.3) ? patterns() : [],
      };
    case 1:
      return {
        kind: 'claim',
        path: g.pick([['role'], ['groups'], ['nested', 'k'], ['n']]),
        values: patterns(),
        notValues: g.chance(0.3) ? patterns() : [],
      };
    case 2:
      return {
        kind: 'sourceIp',
        values: g.some(2, () => g.pick(CIDRS)),
        notValues: g.chance(0.3) ? [g.pick(CIDRS)] : [],
      };
    case 3:
      return {
        kind: 'attribute',
        of: g.pick(['source', 'destination'] as const),
        name: g.pick(['environment', 'team'] as const),
        values: g.some(2, () => g.pick(['prod', 'dev', 'payments'])),
        notValues: g.chance(0.3) ? [g.pick(['prod', 'dev'])] : [],
      };
    case 4:
      return {
        kind: 'time',
        days: g.some(4, () => g.int(7)),
        start: g.int(1440),
        end: g.int(1440),
      };
    default: {
      const e = g.pick(EXPRESSIONS);
      return { kind: 'expression', text: e.text, expression: e.expression };
    }
  }
}

function rule(g: Gen, name: string): Rule {
  return {
    name,
    from: g.chance(0.7) ? g.some(2, () => source(g)) : [],
    to: g.chance(0.7) ? g.some(2, () => operation(g)) : [],
    roles: g.chance(0.3) ? g.some(2, () => g.pick(ROLE_NAMES)) : [],
    when: g.chance(0.3) ? g.some(2, () => condition(g)) : [],
  };
}

function policySet(g: Gen): PolicySet {
  const roles = new Map<string, Role>(
    ROLE_NAMES.slice(0, 2).map((name) => [
      name,
      {
        name,
        principals: g.some(2, () => sp(g.pick(PRINCIPAL_PATTERNS))),
        permissions: g.some(2, () => operation(g)),
      },
    ]),
  );
  const policies: Policy[] = g.some(7, () => {
    const action: PolicyAction = g.pick(['ALLOW', 'ALLOW', 'DENY', 'AUDIT']);
    const name = `${action.toLowerCase()}-${g.int(4)}`;
    const selector = g.pick([
      undefined,
      { services: ['backend'], spiffeIds: [] },
      { services: ['other'], spiffeIds: [] },
      { services: [], spiffeIds: [sp(`${A}/back*`)] },
    ]);
    return {
      name,
      ...(selector !== undefined && { selector }),
      action,
      rules: g.some(5, () => rule(g, `r${g.int(6)}`)),
      dryRun: g.chance(0.2),
      external: false,
    };
  });
  return { defaultAction: g.pick(['ALLOW', 'DENY']), roles, policies };
}

function request(g: Gen): AuthzRequest {
  const principal = g.chance(0.9) ? g.pick(PRINCIPALS) : undefined;
  const address = g.chance(0.8) ? g.pick(ADDRESSES) : undefined;
  const headers: Record<string, string | readonly string[]> = {};
  if (g.chance(0.5)) headers[g.pick(['x-role', 'X-Role'])] = g.pick(HEADER_VALUES);
  if (g.chance(0.2)) headers['x-debug'] = '1';
  // U+212A KELVIN SIGN lower-cases to an ASCII k: `X-\u212Aey` is an `x-key` header.
  if (g.chance(0.2))
    headers[g.pick(['X-\u212Aey', 'x-key', 'X-KEY', 'x-keys'])] = g.pick(HEADER_VALUES);
  const claims = {
    ...(g.chance(0.5) && { role: g.pick(['admin', 'user', 'ops']) }),
    ...(g.chance(0.3) && { groups: g.pick([['admin', 'user'], ['user'], [1, 2]]) }),
    ...(g.chance(0.2) && { nested: { k: 'admin' } }),
    ...(g.chance(0.2) && { n: g.pick([1, true, null]) }),
  };
  const env = (): { environment?: string } =>
    g.chance(0.7) ? { environment: g.pick(['prod', 'dev']) } : {};
  return {
    source: {
      ...(principal !== undefined && { principal }),
      ...(address !== undefined && { address }),
      ...(g.chance(0.5) && { service: 'frontend' }),
      ...(g.chance(0.7) && { attributes: env() }),
    },
    destination: { ...g.pick(DESTINATIONS), port: g.pick([8080, 9090]), attributes: env() },
    request: {
      method: g.pick(METHODS),
      host: g.chance(0.7) ? g.pick(HOSTS) : randomHost(g),
      path: g.chance(0.7) ? g.pick(PATHS) : randomPath(g),
      headers,
      ...(g.chance(0.6) && { auth: { claims } }),
    },
    time: new Date(Date.UTC(2025, 0, 5 + g.int(7), g.int(24), g.int(60))),
  };
}

/** A path of characters that normalization treats specially, to meet every branch of it. */
function randomPath(g: Gen): string {
  const chars = [
    '/',
    '/',
    '/',
    '.',
    '.',
    'a',
    'B',
    '1',
    '~',
    '-',
    '_',
    '%',
    '2',
    'f',
    'F',
    '?',
    '#',
    ';',
    '\\',
    ' ',
  ];
  const body = Array.from({ length: 1 + g.int(9) }, () => g.pick(chars)).join('');
  return g.chance(0.9) ? `/${body}` : body;
}

/** A host of characters that host normalization treats specially. */
function randomHost(g: Gen): string {
  const chars = ['b', 'a', 'C', '1', '-', '.', '_', ':', '8', '0', '[', ']', '@', ' '];
  return Array.from({ length: g.int(8) }, () => g.pick(chars)).join('');
}

function assertSame(set: PolicySet, req: AuthzRequest, what: string): Decision {
  const want = evaluateRequestReference(set, req);
  assert.deepEqual(evaluateRequest(set, req), want, what);
  assert.deepEqual(evaluateRequest(set, req, { explain: true }), want, what);
  assert.deepEqual(evaluateRequest(set, req, { explain: false }), { ...want, closest: [] }, what);
  return want;
}

/** The benchmark's shape (bench/src/authz/rule-set.ts): `n` ALLOW rules, one per caller, and 4 DENY. */
function benchSet(n: number): PolicySet {
  const op = (o: Partial<Operation>): Operation => ({ ...operationOf(), ...o });
  const operationOf = (): Operation => ({
    hosts: [],
    notHosts: [],
    methods: [],
    notMethods: [],
    paths: [],
    notPaths: [],
    ports: [],
    notPorts: [],
    ignoreCase: false,
  });
  const r = (name: string, x: Partial<Rule>): Rule => ({
    name,
    from: [],
    to: [],
    roles: [],
    when: [],
    ...x,
  });
  const selector = { services: ['api'], spiffeIds: [] };
  const deny: Policy = {
    name: 'api-deny',
    selector,
    action: 'DENY',
    dryRun: false,
    external: false,
    rules: [
      r('internal-paths', { to: [op({ paths: [pp('/api/{*}/internal/{**}')] })] }),
      r('quarantined-callers', {
        from: [
          {
            principals: [sp(`${A}/quarantine/*`)],
            notPrincipals: [],
            trustDomains: [],
            notTrustDomains: [],
          },
        ],
      }),
      r('no-delete', { to: [op({ methods: ['DELETE'] })] }),
      r('debug-header', {
        when: [{ kind: 'header', name: 'x-debug', values: [sp('*')], notValues: [] }],
      }),
    ],
  };
  const methodSets = [['GET'], ['GET', 'POST'], ['GET', 'POST', 'PUT']];
  const allow: Policy[] = [];
  for (let p = 0; p * 100 < n; p++) {
    const rules: Rule[] = [];
    for (let i = p * 100; i < Math.min(n, (p + 1) * 100); i++) {
      rules.push(
        r(`svc-${i}`, {
          from: [
            {
              principals: [sp(`${A}/svc-${i}`)],
              notPrincipals: [],
              trustDomains: [],
              notTrustDomains: [],
            },
          ],
          to: [op({ methods: methodSets[i % 3] ?? [], paths: [pp(`/api/${i}/*`)] })],
        }),
      );
    }
    allow.push({
      name: `api-allow-${String(p).padStart(3, '0')}`,
      selector,
      action: 'ALLOW',
      dryRun: false,
      external: false,
      rules,
    });
  }
  return { defaultAction: 'DENY', roles: new Map(), policies: [deny, ...allow] };
}

describe('evaluateRequest (indexed) against the reference evaluator', () => {
  it('decides random requests over random policy sets identically', () => {
    const outcomes = new Map<string, number>();
    for (let seed = 1; seed <= 500; seed++) {
      const g = new Gen(seeded(seed));
      const set = policySet(g);
      for (let n = 0; n < 25; n++) {
        const d = assertSame(set, request(g), `seed ${seed}, request ${n}`);
        const key = `${d.outcome}/${d.decidedBy.kind}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }
    }
    // The generator reaches every kind of decision, each many times.
    for (const key of [
      'allow/policy',
      'deny/policy',
      'deny/no-allow-match',
      'allow/default',
      'deny/default',
      'deny/request',
    ]) {
      assert.ok((outcomes.get(key) ?? 0) >= 100, `${key}: ${outcomes.get(key) ?? 0}`);
    }
  });

  it('finds the same closest rule among many simple rules that fail one condition', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const g = new Gen(seeded(10_000 + seed));
      const simple = (name: string): Rule => ({
        name,
        from: g.chance(0.8)
          ? [
              {
                principals: [sp(g.pick(g.chance(0.8) ? PRINCIPALS : PRINCIPAL_PATTERNS))],
                notPrincipals: [],
                trustDomains: [],
                notTrustDomains: [],
              },
            ]
          : [],
        to: g.chance(0.9)
          ? [
              {
                ...operation(g),
                hosts: [],
                notHosts: [],
                notMethods: [],
                notPaths: [],
                ports: [],
                notPorts: [],
                methods: g.some(2, () => g.pick(METHODS)),
                paths: [pp(g.pick(PATH_PATTERNS))],
              },
            ]
          : [],
        roles: [],
        when: [],
      });
      const policies: Policy[] = g.some(3, () => ({
        name: `allow-${g.int(3)}`,
        action: 'ALLOW' as const,
        rules: g.some(30, () => simple(`r${g.int(40)}`)),
        dryRun: false,
        external: false,
      }));
      const set: PolicySet = { defaultAction: 'DENY', roles: new Map(), policies };
      for (let n = 0; n < 20; n++) assertSame(set, request(g), `seed ${seed}, request ${n}`);
    }
  });

  it('decides the benchmark-shaped set of 1,000 ALLOW rules identically', () => {
    const set = benchSet(1000);
    const g = new Gen(seeded(6));
    for (let n = 0; n < 300; n++) {
      const i = g.int(1000);
      const method = g.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']);
      const principal = g.pick([
        `${A}/svc-${i}`,
        `${A}/svc-${i}`,
        `${A}/svc-${1000 + i}`,
        `${A}/quarantine/svc-${i}`,
      ]);
      const path = g.pick([
        `/api/${i}/items/${g.int(10)}`,
        `/api/${g.int(1000)}/items/1`,
        `/api/${i}/internal/keys`,
      ]);
      assertSame(
        set,
        {
          source: { principal },
          destination: { service: 'api', principal: `${A}/api`, port: 8080 },
          request: { method, host: 'api', path, headers: g.chance(0.1) ? { 'x-debug': '1' } : {} },
          time: new Date(0),
        },
        `request ${n}: ${method} ${path} from ${principal}`,
      );
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildPolicySet } from '../model/build-policy-set.js';
import type {
  AuthzRequest,
  Condition,
  Operation,
  PathPattern,
  PolicyDocument,
  Rule,
  Source,
  StringPattern,
} from '../model/policy.js';
import { evaluateRequest } from './evaluate-request.js';

// Policies are written here as the mesh parser would produce them (the parser itself is tested
// in @parley/mesh); these helpers turn the YAML shorthand into the model's values.
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
const from = (s: Partial<Record<keyof Source, string[]>>): Source => ({
  principals: (s.principals ?? []).map(sp),
  notPrincipals: (s.notPrincipals ?? []).map(sp),
  trustDomains: s.trustDomains ?? [],
  notTrustDomains: s.notTrustDomains ?? [],
});
const to = (
  o: Partial<
    Record<'hosts' | 'notHosts' | 'methods' | 'notMethods' | 'paths' | 'notPaths', string[]>
  > & {
    ports?: number[];
    ignoreCase?: boolean;
  },
): Operation => ({
  hosts: (o.hosts ?? []).map((h) => {
    const [name = '', port] = h.split(':');
    return port === undefined
      ? { name: sp(name), text: h }
      : { name: sp(name), port: Number(port), text: h };
  }),
  notHosts: [],
  methods: o.methods ?? [],
  notMethods: o.notMethods ?? [],
  paths: (o.paths ?? []).map(pp),
  notPaths: (o.notPaths ?? []).map(pp),
  ports: o.ports ?? [],
  notPorts: [],
  ignoreCase: o.ignoreCase ?? false,
});
const header = (name: string, values: string[], notValues: string[] = []): Condition => ({
  kind: 'header',
  name,
  values: values.map(sp),
  notValues: notValues.map(sp),
});
const rule = (name: string, r: Partial<Omit<Rule, 'name'>>): Rule => ({
  name,
  from: r.from ?? [],
  to: r.to ?? [],
  roles: r.roles ?? [],
  when: r.when ?? [],
});
const policy = (
  name: string,
  action: PolicyDocument['action'],
  rules: Rule[],
  opts: { services?: string[]; dryRun?: boolean } = {},
): PolicyDocument => ({
  metadata: { name },
  ...(opts.services !== undefined && { selector: { services: opts.services, spiffeIds: [] } }),
  action,
  rules,
  dryRun: opts.dryRun ?? false,
  roles: [],
});
const settings = (doc: Partial<PolicyDocument>): PolicyDocument => ({
  metadata: { name: 'mesh' },
  action: 'ALLOW',
  rules: [],
  dryRun: false,
  roles: [],
  ...doc,
});

const TD = 'spiffe://example.org';
const FRONTEND = `${TD}/frontend`;
const ORDERS = `${TD}/orders`;
const OPS = `${TD}/ops/alice`;
const FOREIGN = 'spiffe://partner.example/frontend';

interface Req {
  source?: string | null;
  method?: string;
  path?: string;
  host?: string;
  headers?: Record<string, string | string[]>;
  claims?: Record<string, unknown>;
  address?: string;
  service?: string;
  sourceAttrs?: Record<string, string>;
  destAttrs?: Record<string, string>;
  port?: number;
  time?: string;
}

const request = (r: Req): AuthzRequest => ({
  source: {
    ...(r.source !== null && { principal: r.source ?? FRONTEND }),
    address: r.address ?? '10.1.2.3',
    ...(r.sourceAttrs !== undefined && { attributes: r.sourceAttrs }),
  },
  destination: {
    service: r.service ?? 'backend',
    principal: `${TD}/${r.service ?? 'backend'}`,
    port: r.port ?? 8080,
    attributes: r.destAttrs ?? { environment: 'prod', team: 'shop', sensitivity: 'internal' },
  },
  request: {
    method: r.method ?? 'GET',
    host: r.host ?? 'backend',
    path: r.path ?? '/',
    headers: r.headers ?? {},
    ...(r.claims !== undefined && { auth: { claims: r.claims } }),
  },
  time: new Date(r.time ?? '2026-03-04T10:00:00Z'), // a Wednesday
});

// The policy set of most cases: deny by default; RBAC roles; an ABAC rule; a hybrid rule; DENY on
// /admin; dry-run and audit policies.
const MESH = buildPolicySet([
  settings({
    defaultAction: 'DENY',
    roles: [
      {
        name: 'catalogue-reader',
        principals: [sp(FRONTEND), sp(`${TD}/ops/*`)],
        permissions: [to({ methods: ['GET', 'HEAD'], paths: ['/catalogue/*'] })],
      },
      {
        name: 'catalogue-admin',
        principals: [sp(`${TD}/ops/*`)],
        permissions: [to({ methods: ['POST'], paths: ['/catalogue/admin/*'] })],
      },
      {
        name: 'order-writer',
        principals: [sp(ORDERS)],
        permissions: [to({ methods: ['POST', 'PUT'], paths: ['/orders/{*}', '/orders'] })],
      },
    ],
  }),
  policy(
    'backend-allow',
    'ALLOW',
    [
      rule('rbac', { roles: ['catalogue-reader', 'order-writer'] }),
      rule('frontend-api', {
        from: [from({ principals: [FRONTEND] })],
        to: [to({ methods: ['GET'], paths: ['/api/*', '/items/{*}/reviews/{**}'] })],
      }),
      rule('abac-same-team', {
        from: [from({ trustDomains: ['example.org'] })],
        to: [to({ paths: ['/team/*'] })],
        when: [
          { kind: 'attribute', of: 'source', name: 'team', values: ['shop'], notValues: [] },
          {
            kind: 'attribute',
            of: 'destination',
            name: 'environment',
            values: ['prod'],
            notValues: [],
          },
        ],
      }),
      rule('hybrid-ops', {
        roles: ['catalogue-admin'],
        when: [
          {
            kind: 'expression',
            text: "source.attributes.team == 'ops' && destination.attributes.sensitivity in ['internal']",
            expression: {
              op: 'and',
              left: {
                op: '==',
                left: { op: 'attribute', path: ['source', 'attributes', 'team'] },
                right: { op: 'literal', value: 'ops' },
              },
              right: {
                op: 'in',
                left: { op: 'attribute', path: ['destination', 'attributes', 'sensitivity'] },
                right: { op: 'list', items: [{ op: 'literal', value: 'internal' }] },
              },
            },
          },
        ],
      }),
      rule('role-header', {
        from: [from({ principals: [`${TD}/*`] })],
        to: [to({ paths: ['/reports'] })],
        when: [header('x-role', ['analyst'])],
      }),
      rule('jwt-admin', {
        to: [to({ paths: ['/me/*'] })],
        when: [
          { kind: 'claim', path: ['groups'], values: [sp('shoppers')], notValues: [] },
          {
            kind: 'sourceIp',
            values: [{ bytes: [10, 0, 0, 0], prefixLength: 8, text: '10.0.0.0/8' }],
            notValues: [],
          },
        ],
      }),
      rule('business-hours', {
        from: [from({ principals: [OPS] })],
        to: [to({ paths: ['/maintenance'] })],
        when: [{ kind: 'time', days: [1, 2, 3, 4, 5], start: 9 * 60, end: 17 * 60 }],
      }),
      rule('partner', {
        from: [from({ trustDomains: ['partner.example'] })],
        to: [to({ hosts: ['backend:8443'], paths: ['/partner/*'] })],
      }),
    ],
    { services: ['backend'] },
  ),
  policy(
    'backend-deny',
    'DENY',
    [
      rule('no-admin', { to: [to({ paths: ['/admin/*'], ignoreCase: true })] }),
      rule('no-guest', { when: [header('x-role', ['guest'])] }),
      rule('no-delete', { to: [to({ methods: ['DELETE'] })] }),
      rule('not-from-partner-to-api', {
        from: [from({ notTrustDomains: ['example.org'] })],
        to: [to({ paths: ['/api/*'] })],
      }),
    ],
    { services: ['backend'] },
  ),
  policy('backend-audit', 'AUDIT', [rule('audit-orders', { to: [to({ paths: ['/orders/*'] })] })], {
    services: ['backend'],
  }),
  policy(
    'backend-dry-deny',
    'DENY',
    [rule('would-block-reports', { to: [to({ paths: ['/reports'] })] })],
    { services: ['backend'], dryRun: true },
  ),
]);

type Case = [what: string, req: Req, outcome: 'allow' | 'deny', decidedBy?: string];

// decidedBy: "policy/rule", "default", "no-allow-match" or "request".
const CASES: Case[] = [
  // RBAC
  [
    'role catalogue-reader reads the catalogue',
    { path: '/catalogue/socks' },
    'allow',
    'backend-allow/rbac',
  ],
  [
    'role catalogue-reader by prefix binding',
    { source: OPS, method: 'HEAD', path: '/catalogue/x' },
    'allow',
    'backend-allow/rbac',
  ],
  [
    'role catalogue-reader may not POST',
    { method: 'POST', path: '/catalogue/x' },
    'deny',
    'no-allow-match',
  ],
  [
    'role order-writer posts an order',
    { source: ORDERS, method: 'POST', path: '/orders/42' },
    'allow',
    'backend-allow/rbac',
  ],
  [
    'role order-writer {*} is one segment',
    { source: ORDERS, method: 'POST', path: '/orders/42/items' },
    'deny',
    'no-allow-match',
  ],
  [
    'order-writer binding does not cover the frontend',
    { method: 'POST', path: '/orders/42' },
    'deny',
    'no-allow-match',
  ],
  [
    'unbound caller gets no role',
    { source: `${TD}/stranger`, path: '/catalogue/x' },
    'deny',
    'no-allow-match',
  ],
  // principals and paths
  ['frontend GET /api/items', { path: '/api/items' }, 'allow', 'backend-allow/frontend-api'],
  [
    'frontend GET /api (prefix covers its root)',
    { path: '/api' },
    'allow',
    'backend-allow/frontend-api',
  ],
  [
    'frontend POST /api/items: method',
    { method: 'POST', path: '/api/items' },
    'deny',
    'no-allow-match',
  ],
  [
    'orders GET /api/items: principal',
    { source: ORDERS, path: '/api/items' },
    'deny',
    'no-allow-match',
  ],
  [
    '{**} matches any depth',
    { path: '/items/7/reviews/a/b/c' },
    'allow',
    'backend-allow/frontend-api',
  ],
  [
    '{**} matches zero segments',
    { path: '/items/7/reviews' },
    'allow',
    'backend-allow/frontend-api',
  ],
  ['{*} needs a non-empty segment', { path: '/items//reviews/x' }, 'deny', 'no-allow-match'],
  ['unauthenticated caller', { source: null, path: '/api/items' }, 'deny', 'no-allow-match'],
  // ABAC
  [
    'same-team caller (source attribute)',
    { source: ORDERS, sourceAttrs: { team: 'shop' }, path: '/team/x' },
    'allow',
    'backend-allow/abac-same-team',
  ],
  [
    'other team',
    { source: ORDERS, sourceAttrs: { team: 'ops' }, path: '/team/x' },
    'deny',
    'no-allow-match',
  ],
  ['caller without attributes', { source: ORDERS, path: '/team/x' }, 'deny', 'no-allow-match'],
  [
    'destination environment',
    {
      source: ORDERS,
      sourceAttrs: { team: 'shop' },
      destAttrs: { environment: 'dev' },
      path: '/team/x',
    },
    'deny',
    'no-allow-match',
  ],
  // hybrid (role and attribute expression)
  [
    'hybrid: role + team ops',
    { source: OPS, method: 'POST', sourceAttrs: { team: 'ops' }, path: '/catalogue/admin/flush' },
    'allow',
    'backend-allow/hybrid-ops',
  ],
  [
    'hybrid: role without the attribute',
    { source: OPS, method: 'POST', sourceAttrs: { team: 'shop' }, path: '/catalogue/admin/flush' },
    'deny',
    'no-allow-match',
  ],
  [
    'hybrid: attribute without the role',
    {
      source: ORDERS,
      method: 'POST',
      sourceAttrs: { team: 'ops' },
      path: '/catalogue/admin/flush',
    },
    'deny',
    'no-allow-match',
  ],
  [
    'hybrid: sensitivity not internal',
    {
      source: OPS,
      sourceAttrs: { team: 'ops' },
      method: 'POST',
      destAttrs: { sensitivity: 'secret' },
      path: '/catalogue/admin/flush',
    },
    'deny',
    'no-allow-match',
  ],
  // headers, claims, source address, time
  [
    'x-role analyst',
    { headers: { 'x-role': 'analyst' }, path: '/reports' },
    'allow',
    'backend-allow/role-header',
  ],
  ['x-role missing', { path: '/reports' }, 'deny', 'no-allow-match'],
  [
    'JWT group from 10/8',
    { claims: { groups: ['shoppers', 'x'] }, path: '/me/cart' },
    'allow',
    'backend-allow/jwt-admin',
  ],
  [
    'JWT group from outside 10/8',
    { claims: { groups: ['shoppers'] }, address: '192.168.1.1', path: '/me/cart' },
    'deny',
    'no-allow-match',
  ],
  [
    'JWT without the group',
    { claims: { groups: ['guests'] }, path: '/me/cart' },
    'deny',
    'no-allow-match',
  ],
  ['no JWT', { path: '/me/cart' }, 'deny', 'no-allow-match'],
  [
    'IPv4-mapped IPv6 source in 10/8',
    { claims: { groups: 'shoppers' }, address: '::ffff:10.9.9.9', path: '/me/x' },
    'allow',
    'backend-allow/jwt-admin',
  ],
  [
    'business hours: Wednesday 10:00 UTC',
    { source: OPS, path: '/maintenance' },
    'allow',
    'backend-allow/business-hours',
  ],
  [
    'business hours: Wednesday 17:00 UTC',
    { source: OPS, path: '/maintenance', time: '2026-03-04T17:00:00Z' },
    'deny',
    'no-allow-match',
  ],
  [
    'business hours: Sunday',
    { source: OPS, path: '/maintenance', time: '2026-03-01T10:00:00Z' },
    'deny',
    'no-allow-match',
  ],
  // trust domains and hosts
  [
    'partner on its port',
    { source: FOREIGN, host: 'backend:8443', path: '/partner/x' },
    'allow',
    'backend-allow/partner',
  ],
  [
    'partner on another port',
    { source: FOREIGN, host: 'backend:8080', path: '/partner/x' },
    'deny',
    'no-allow-match',
  ],
  [
    'partner host case',
    { source: FOREIGN, host: 'BACKEND:8443', path: '/partner/x' },
    'allow',
    'backend-allow/partner',
  ],
  // DENY beats ALLOW
  [
    'DENY /admin beats the role',
    { source: OPS, path: '/admin/users' },
    'deny',
    'backend-deny/no-admin',
  ],
  [
    'DENY DELETE beats ALLOW',
    { method: 'DELETE', path: '/api/items' },
    'deny',
    'backend-deny/no-delete',
  ],
  [
    'DENY catches lower-case delete',
    { method: 'delete', path: '/api/items' },
    'deny',
    'backend-deny/no-delete',
  ],
  [
    'DENY x-role guest beats ALLOW',
    { headers: { 'x-role': 'guest' }, path: '/api/items' },
    'deny',
    'backend-deny/no-guest',
  ],
  [
    'DENY partner on /api',
    { source: FOREIGN, path: '/api/x' },
    'deny',
    'backend-deny/not-from-partner-to-api',
  ],
  // the bypass list: every form is denied or never reaches the denied path
  ['bypass //admin', { path: '//admin' }, 'deny', 'backend-deny/no-admin'],
  ['bypass /admin/', { path: '/admin/' }, 'deny', 'backend-deny/no-admin'],
  ['bypass /admin', { path: '/admin' }, 'deny', 'backend-deny/no-admin'],
  ['bypass /./admin', { path: '/./admin' }, 'deny', 'backend-deny/no-admin'],
  ['bypass /api/../admin', { path: '/api/../admin' }, 'deny', 'backend-deny/no-admin'],
  ['bypass /api/%2e%2e/admin', { path: '/api/%2e%2e/admin' }, 'deny', 'backend-deny/no-admin'],
  ['bypass /%61dmin (escaped unreserved)', { path: '/%61dmin' }, 'deny', 'backend-deny/no-admin'],
  ['bypass %2Fadmin', { path: '/api%2Fadmin' }, 'deny', 'request'],
  ['bypass %2fadmin', { path: '/%2fadmin' }, 'deny', 'request'],
  ['bypass %5Cadmin', { path: '/%5Cadmin' }, 'deny', 'request'],
  ['bypass /ADMIN (case rule)', { path: '/ADMIN' }, 'deny', 'backend-deny/no-admin'],
  ['bypass /Admin/x (case rule)', { path: '/Admin/x' }, 'deny', 'backend-deny/no-admin'],
  ['bypass /admin;x', { path: '/admin;x' }, 'deny', 'request'],
  ['bypass /api/x;/../../admin', { path: '/api/x;/../../admin' }, 'deny', 'request'],
  ['bypass /admin?x', { path: '/admin?x' }, 'deny', 'backend-deny/no-admin'],
  ['bypass /admin#x', { path: '/admin#x' }, 'deny', 'backend-deny/no-admin'],
  [
    'bypass /api/items#/../../admin',
    { path: '/api/items#/../../admin' },
    'allow',
    'backend-allow/frontend-api',
  ],
  ['bypass \\admin', { path: '\\admin' }, 'deny', 'request'],
  ['bypass /api\\..\\admin', { path: '/api\\..\\admin' }, 'deny', 'request'],
  [
    'bypass duplicated x-role (guest, analyst)',
    { headers: { 'x-role': ['analyst', 'guest'] }, path: '/reports' },
    'deny',
    'backend-deny/no-guest',
  ],
  [
    'bypass x-role joined with a comma',
    { headers: { 'x-role': 'analyst, guest' }, path: '/reports' },
    'deny',
    'backend-deny/no-guest',
  ],
  [
    'bypass X-Role header case',
    { headers: { 'X-Role': 'guest' }, path: '/api/x' },
    'deny',
    'backend-deny/no-guest',
  ],
  [
    'duplicated x-role analyst twice is not ambiguous',
    { headers: { 'x-role': ['analyst', 'analyst'] }, path: '/reports' },
    'allow',
    'backend-allow/role-header',
  ],
  [
    'duplicated x-role analyst + admin does not allow',
    { headers: { 'x-role': ['analyst', 'admin'] }, path: '/reports' },
    'deny',
    'no-allow-match',
  ],
  [
    'Host: backend:80 is backend',
    { host: 'backend:80', path: '/api/items' },
    'allow',
    'backend-allow/frontend-api',
  ],
  [
    'Host with a bad port is refused',
    { host: 'backend:99999', path: '/api/items' },
    'deny',
    'request',
  ],
  [
    'Host with user info is refused',
    { host: 'evil@backend', path: '/api/items' },
    'deny',
    'request',
  ],
  // defaults
  ['a path no rule allows', { path: '/secret' }, 'deny', 'no-allow-match'],
  [
    'no ALLOW policy on the workload, mesh default deny',
    { service: 'catalogue', path: '/x' },
    'deny',
    'default',
  ],
];

function decidedBy(d: ReturnType<typeof evaluateRequest>): string {
  switch (d.decidedBy.kind) {
    case 'policy':
      return `${d.decidedBy.policy}/${d.decidedBy.rule}`;
    case 'default':
      return 'default';
    case 'no-allow-match':
      return 'no-allow-match';
    case 'request':
      return 'request';
  }
}

describe('evaluateRequest', () => {
  for (const [what, req, outcome, by] of CASES) {
    it(`${outcome}s: ${what}`, () => {
      const d = evaluateRequest(MESH, request(req));
      assert.equal(d.outcome, outcome, d.why);
      if (by !== undefined) assert.equal(decidedBy(d), by, d.why);
    });
  }

  it('has at least 50 table cases', () => {
    assert.ok(CASES.length >= 50);
  });

  it('explains a deny with the rules that came closest, fewest failures first', () => {
    const d = evaluateRequest(MESH, request({ method: 'POST', path: '/api/items' }));
    assert.equal(d.outcome, 'deny');
    assert.ok(d.closest.length > 0 && d.closest.length <= 3);
    assert.deepEqual(
      d.closest.find((m) => m.rule === 'frontend-api'),
      {
        policy: 'backend-allow',
        rule: 'frontend-api',
        failed: ['to: POST backend/api/items matches no operation'],
      },
    );
    const sizes = d.closest.map((m) => m.failed.length);
    assert.deepEqual(
      sizes,
      [...sizes].sort((a, b) => a - b),
    );
    assert.match(d.why, /^no ALLOW rule matches; closest: "backend-allow" rule "rbac"/);
  });

  it('reports AUDIT matches without changing the outcome', () => {
    const d = evaluateRequest(MESH, request({ source: ORDERS, method: 'POST', path: '/orders/1' }));
    assert.equal(d.outcome, 'allow');
    assert.deepEqual(d.audit, [{ policy: 'backend-audit', rule: 'audit-orders', action: 'AUDIT' }]);
  });

  it('evaluates dry-run policies without enforcing them: "would deny"', () => {
    const d = evaluateRequest(
      MESH,
      request({ headers: { 'x-role': 'analyst' }, path: '/reports' }),
    );
    assert.equal(d.outcome, 'allow');
    assert.equal(d.dryRun?.outcome, 'deny');
    assert.deepEqual(d.dryRun?.matches, [
      { policy: 'backend-dry-deny', rule: 'would-block-reports', action: 'DENY' },
    ]);
    assert.match(d.dryRun?.why ?? '', /would deny/);
  });

  it('previews a dry-run ALLOW policy on a workload without one: "would deny"/"would allow"', () => {
    const set = buildPolicySet([
      policy('only-frontend', 'ALLOW', [rule('r', { from: [from({ principals: [FRONTEND] })] })], {
        dryRun: true,
      }),
    ]);
    const other = evaluateRequest(set, request({ source: ORDERS }));
    assert.equal(other.outcome, 'allow');
    assert.equal(other.dryRun?.outcome, 'deny');
    const fe = evaluateRequest(set, request({}));
    assert.equal(fe.outcome, 'allow');
    assert.equal(fe.dryRun?.outcome, 'allow');
  });

  it('without a mesh default, admits callers of the workload trust domain only (Istio)', () => {
    const set = buildPolicySet([]);
    assert.equal(evaluateRequest(set, request({})).outcome, 'allow');
    assert.equal(evaluateRequest(set, request({ source: FOREIGN })).outcome, 'deny');
    assert.equal(evaluateRequest(set, request({ source: null })).outcome, 'deny');
  });

  it('treats an ALLOW policy without rules as allow-nothing', () => {
    const set = buildPolicySet([policy('nothing', 'ALLOW', [])]);
    const d = evaluateRequest(set, request({}));
    assert.equal(d.outcome, 'deny');
    assert.equal(d.decidedBy.kind, 'no-allow-match');
  });

  it('selects workloads by SPIFFE ID pattern', () => {
    const set = buildPolicySet([
      settings({ defaultAction: 'DENY' }),
      {
        ...policy('by-id', 'ALLOW', [rule('any', {})]),
        selector: { services: [], spiffeIds: [sp(`${TD}/back*`)] },
      },
    ]);
    assert.equal(evaluateRequest(set, request({})).outcome, 'allow');
    assert.equal(evaluateRequest(set, request({ service: 'catalogue' })).outcome, 'deny');
  });

  it('fails closed on expression errors: no allow, and a DENY matches', () => {
    const ambiguous: Condition = {
      kind: 'expression',
      text: "request.headers['x-role'] == 'guest'",
      expression: {
        op: '==',
        left: { op: 'attribute', path: ['request', 'headers', 'x-role'] },
        right: { op: 'literal', value: 'guest' },
      },
    };
    const allowOnly = buildPolicySet([policy('a', 'ALLOW', [rule('r', { when: [ambiguous] })])]);
    const withDeny = buildPolicySet([policy('d', 'DENY', [rule('r', { when: [ambiguous] })])]);
    const dup = request({ headers: { 'x-role': ['guest', 'user'] } });
    assert.equal(evaluateRequest(allowOnly, dup).outcome, 'deny');
    assert.equal(evaluateRequest(withDeny, dup).outcome, 'deny');
    assert.equal(
      evaluateRequest(withDeny, request({ headers: { 'x-role': 'user' } })).outcome,
      'allow',
    );
  });
});

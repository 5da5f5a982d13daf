import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ProtoObject, checkMessage } from '@parley/api';
import { evaluateRequest } from '../evaluate/evaluate-request.js';
import type {
  Condition,
  HostPattern,
  Operation,
  PathPattern,
  Policy,
  PolicySet,
  Role,
  Rule,
  Source,
  StringPattern,
} from '../model/policy.js';
import {
  DEFAULT_ALLOW_POLICY,
  type EnforcementTarget,
  type HttpFilterConfig,
  JWT_PAYLOAD_METADATA_KEY,
  RBAC_FILTER_NAME,
  RBAC_STAT_PREFIX,
  RBAC_TYPE_URL,
  compileEnforcement,
} from './rbac-filters.js';
import { estimateProgramSize } from './rbac-regex.js';
import { HOST_ACCEPTED, HOST_BAD_PORT, PATH_ACCEPTED } from './rbac-request.js';
import { type SimulatedRequest, simulateRbac } from './rbac-simulator.js';

// Policies as the mesh parser produces them (it is tested in @parley/mesh).
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
const hp = (text: string): HostPattern => {
  const [name = '', port] = text.split(':');
  return port === undefined
    ? { name: sp(name), text }
    : { name: sp(name), port: Number(port), text };
};
const from = (s: Partial<Record<keyof Source, string[]>>): Source => ({
  principals: (s.principals ?? []).map(sp),
  notPrincipals: (s.notPrincipals ?? []).map(sp),
  trustDomains: s.trustDomains ?? [],
  notTrustDomains: s.notTrustDomains ?? [],
});
type Op = Partial<
  Record<'hosts' | 'notHosts' | 'methods' | 'notMethods' | 'paths' | 'notPaths', string[]>
> & { ports?: number[]; notPorts?: number[]; ignoreCase?: boolean };
const to = (o: Op): Operation => ({
  hosts: (o.hosts ?? []).map(hp),
  notHosts: (o.notHosts ?? []).map(hp),
  methods: o.methods ?? [],
  notMethods: o.notMethods ?? [],
  paths: (o.paths ?? []).map(pp),
  notPaths: (o.notPaths ?? []).map(pp),
  ports: o.ports ?? [],
  notPorts: o.notPorts ?? [],
  ignoreCase: o.ignoreCase ?? false,
});
const header = (name: string, values: string[], notValues: string[] = []): Condition => ({
  kind: 'header',
  name,
  values: values.map(sp),
  notValues: notValues.map(sp),
});
const sourceIp = (values: string[], notValues: string[] = []): Condition => {
  const cidr = (text: string) => {
    const [a = '', len] = text.split('/');
    const bytes = a.includes(':')
      ? [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
      : a.split('.').map(Number);
    return { bytes, prefixLength: Number(len ?? bytes.length * 8), text };
  };
  return { kind: 'sourceIp', values: values.map(cidr), notValues: notValues.map(cidr) };
};
const rule = (name: string, r: Partial<Omit<Rule, 'name'>>): Rule => ({
  name,
  from: r.from ?? [],
  to: r.to ?? [],
  roles: r.roles ?? [],
  when: r.when ?? [],
});
const policy = (
  name: string,
  action: Policy['action'],
  rules: Rule[],
  extra: Partial<Pick<Policy, 'dryRun' | 'external' | 'selector'>> = {},
): Policy => ({
  name,
  action,
  rules,
  dryRun: extra.dryRun ?? false,
  external: extra.external ?? false,
  ...(extra.selector !== undefined && { selector: extra.selector }),
});
const set = (
  policies: Policy[],
  defaultAction: PolicySet['defaultAction'] = 'DENY',
  roles: Role[] = [],
): PolicySet => ({
  defaultAction,
  roles: new Map(roles.map((r) => [r.name, r])),
  policies: [...policies].sort((a, b) => (a.name < b.name ? -1 : 1)),
});

const BACKEND: EnforcementTarget = {
  service: 'backend',
  spiffeId: 'spiffe://example.org/backend',
  ports: [80, 9090],
};
/** The sidecar's inbound listener: not a Service port, so it stands for port 80. */
const INBOUND_PORT = 15006;

function native(s: PolicySet, target = BACKEND): readonly HttpFilterConfig[] {
  const e = compileEnforcement(s, target);
  if (e.mode !== 'native') assert.fail(`expected native enforcement: ${e.reasons.join(' | ')}`);
  for (const f of e.filters) {
    assert.equal(f.name, RBAC_FILTER_NAME);
    const { '@type': type, ...config } = f.typed_config;
    assert.equal(type, RBAC_TYPE_URL);
    assert.deepEqual(checkMessage('envoy.extensions.filters.http.rbac.v3.RBAC', config), []);
  }
  return e.filters;
}

function externalReasons(s: PolicySet, target = BACKEND): readonly string[] {
  const e = compileEnforcement(s, target);
  if (e.mode !== 'external') assert.fail('expected external enforcement');
  return e.reasons;
}

const prefixes = (filters: readonly HttpFilterConfig[]) =>
  filters.map((f) => f.typed_config['rules_stat_prefix']);
const rulesOf = (f: HttpFilterConfig | undefined, key = 'rules') =>
  (f?.typed_config[key] ?? {}) as { action: string; policies: Record<string, ProtoObject> };

describe('compileEnforcement', () => {
  it('keeps the key of the JWT payload the claims live under', () => {
    assert.equal(JWT_PAYLOAD_METADATA_KEY, 'payload');
  });

  it('denies everything under defaultAction DENY when no ALLOW policy applies', () => {
    const filters = native(
      set([
        policy('other', 'ALLOW', [rule('r', {})], {
          selector: { services: ['vault'], spiffeIds: [] },
        }),
      ]),
    );
    assert.deepEqual(prefixes(filters), [RBAC_STAT_PREFIX.request, RBAC_STAT_PREFIX.allow]);
    assert.deepEqual(rulesOf(filters[1]), { action: 'ALLOW', policies: {} });
    assert.equal(rulesOf(filters[0]).action, 'DENY');
    assert.deepEqual(Object.keys(rulesOf(filters[0]).policies).sort(), [
      'parley/request/host',
      'parley/request/host-length',
      'parley/request/host-port',
      'parley/request/path',
      'parley/request/path-length',
    ]);
  });

  it("admits only its own trust domain under Istio's default", () => {
    const filters = native(set([], 'ALLOW'));
    assert.deepEqual(rulesOf(filters[1]).policies, {
      [DEFAULT_ALLOW_POLICY]: {
        permissions: [{ any: true }],
        principals: [
          {
            or_ids: {
              ids: [
                { authenticated: { principal_name: { prefix: 'spiffe://example.org/' } } },
                { authenticated: { principal_name: { exact: 'spiffe://example.org' } } },
              ],
            },
          },
        ],
      },
    });
  });

  it('orders request, AUDIT, DENY and ALLOW filters and names policies <policy>/<rule>', () => {
    const filters = native(
      set([
        policy('allow', 'ALLOW', [
          rule('readers', { from: [from({ principals: ['spiffe://example.org/frontend'] })] }),
        ]),
        policy('deny', 'DENY', [rule('admin', { to: [to({ paths: ['/admin/*'] })] })]),
        policy('audit', 'AUDIT', [rule('writes', { to: [to({ methods: ['POST'] })] })]),
      ]),
    );
    assert.deepEqual(prefixes(filters), [
      RBAC_STAT_PREFIX.request,
      RBAC_STAT_PREFIX.audit,
      RBAC_STAT_PREFIX.deny,
      RBAC_STAT_PREFIX.allow,
    ]);
    assert.equal(rulesOf(filters[1]).action, 'LOG');
    assert.deepEqual(Object.keys(rulesOf(filters[1]).policies), ['audit/writes']);
    assert.deepEqual(rulesOf(filters[2]).policies, {
      'deny/admin': {
        permissions: [
          {
            or_rules: {
              rules: [
                { url_path: { path: { prefix: '/admin/' } } },
                { url_path: { path: { exact: '/admin' } } },
              ],
            },
          },
        ],
        principals: [{ any: true }],
      },
    });
    assert.deepEqual(Object.keys(rulesOf(filters[3]).policies), ['allow/readers']);
    assert.equal(filters[2]?.typed_config['shadow_rules'], undefined);
  });

  it('puts dry-run policies into shadow rules beside the enforced ones', () => {
    const filters = native(
      set([
        policy('allow', 'ALLOW', [
          rule('all', { from: [from({ trustDomains: ['example.org'] })] }),
        ]),
        policy('dry-deny', 'DENY', [rule('beta', { to: [to({ paths: ['/beta/*'] })] })], {
          dryRun: true,
        }),
        policy(
          'dry-allow',
          'ALLOW',
          [rule('frontend', { from: [from({ principals: ['spiffe://example.org/frontend'] })] })],
          { dryRun: true },
        ),
      ]),
    );
    const [, deny, allow] = filters;
    assert.deepEqual(rulesOf(deny).policies, {});
    assert.deepEqual(Object.keys(rulesOf(deny, 'shadow_rules').policies), ['dry-deny/beta']);
    assert.equal(deny?.typed_config['shadow_rules_stat_prefix'], RBAC_STAT_PREFIX.deny);
    assert.deepEqual(Object.keys(rulesOf(allow).policies), ['allow/all']);
    assert.deepEqual(Object.keys(rulesOf(allow, 'shadow_rules').policies).sort(), [
      'allow/all',
      'dry-allow/frontend',
    ]);
    assert.equal(allow?.typed_config['shadow_rules_stat_prefix'], RBAC_STAT_PREFIX.allow);
  });

  it('splits a rule whose roles grant ports into one policy per role', () => {
    const roles: Role[] = [
      {
        name: 'reader',
        principals: [sp('spiffe://example.org/frontend')],
        permissions: [to({ paths: ['/a/*'] })],
      },
      {
        name: 'scraper',
        principals: [sp('spiffe://example.org/ops/*')],
        permissions: [to({ paths: ['/metrics'], ports: [9090] })],
      },
    ];
    const filters = native(
      set(
        [policy('allow', 'ALLOW', [rule('roles', { roles: ['reader', 'scraper'] })])],
        'DENY',
        roles,
      ),
    );
    assert.deepEqual(Object.keys(rulesOf(filters.at(-1)).policies), [
      'allow/roles/reader',
      'allow/roles/scraper',
    ]);
    const folded = native(
      set([policy('allow', 'ALLOW', [rule('roles', { roles: ['reader'] })])], 'DENY', roles),
    );
    assert.deepEqual(Object.keys(rulesOf(folded.at(-1)).policies), ['allow/roles']);
  });

  it('reads every value of a repeated header in an ALLOW rule, any part in a DENY rule', () => {
    const filters = native(
      set([
        policy('allow', 'ALLOW', [
          rule('admins', { when: [header('x-role', ['admin', 'ops-*'])] }),
        ]),
        policy('deny', 'DENY', [rule('guests', { when: [header('x-role', ['guest'])] })]),
      ]),
    );
    const allow = JSON.stringify(rulesOf(filters.at(-1)).policies['allow/admins']);
    assert.match(allow, /"present_match":true/);
    assert.match(allow, /not_rule/);
    const deny = JSON.stringify(rulesOf(filters[1]).policies['deny/guests']);
    assert.match(deny, /guest/);
    assert.match(deny, /\(\?:\.\*,\)\?/);
  });

  it('goes external, with one reason per rule, for what RBAC cannot decide exactly', () => {
    const reasons = externalReasons(
      set([
        policy('marked', 'ALLOW', [rule('r', {})], { external: true }),
        policy('abac', 'ALLOW', [
          rule('team', {
            when: [
              { kind: 'attribute', of: 'source', name: 'team', values: ['ops'], notValues: [] },
            ],
          }),
          rule('hours', { when: [{ kind: 'time', days: [1, 2, 3, 4, 5], start: 540, end: 1020 }] }),
          rule('cel', {
            when: [
              { kind: 'expression', text: 'true', expression: { op: 'literal', value: true } },
            ],
          }),
          rule('claims', {
            when: [
              { kind: 'claim', path: ['realm', 'roles'], values: [sp('reader')], notValues: [] },
            ],
          }),
          rule('suffix-header', { when: [header('x-team', ['*-ops'])] }),
        ]),
        policy('deny', 'DENY', [
          rule('both', { when: [header('x-role', ['guest'], ['admin'])] }),
          rule('not-prefix', { when: [header('x-tenant', [], ['acme*'])] }),
        ]),
      ]),
    );
    assert.deepEqual(
      reasons.map((r) => r.split(':')[0]),
      [
        'policy "abac" rule "team"',
        'policy "abac" rule "hours"',
        'policy "abac" rule "cel"',
        'policy "abac" rule "claims"',
        'policy "abac" rule "suffix-header"',
        'policy "deny" rule "both"',
        'policy "deny" rule "not-prefix"',
        'policy "marked" is marked external',
      ],
    );
    for (const r of reasons) assert.doesNotMatch(r.slice(0, -1), /\.\s/, `one sentence: ${r}`);
  });

  it('ignores policies that do not apply to the workload', () => {
    const s = set([
      policy('elsewhere', 'ALLOW', [rule('r', {})], {
        selector: { services: ['vault'], spiffeIds: [] },
        external: true,
      }),
      policy('here', 'ALLOW', [rule('r', {})], {
        selector: { services: [], spiffeIds: [sp('spiffe://example.org/back*')] },
      }),
    ]);
    assert.deepEqual(Object.keys(rulesOf(native(s).at(-1)).policies), ['here/r']);
  });

  it("keeps the request check's regexes within Envoy's RE2 program size", () => {
    for (const regex of [PATH_ACCEPTED, HOST_ACCEPTED, HOST_BAD_PORT]) {
      assert.ok(estimateProgramSize(regex) <= 100, regex);
    }
  });
});

/** A small deterministic PRNG (mulberry32), so the sampled requests are the same every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the compiled filters decide as evaluateRequest (simulated Envoy)', () => {
  const roles: Role[] = [
    {
      name: 'reader',
      principals: [sp('spiffe://example.org/frontend'), sp('spiffe://example.org/ops/*')],
      permissions: [to({ methods: ['GET', 'HEAD'], paths: ['/catalogue/*'] })],
    },
    {
      name: 'scraper',
      principals: [sp('*/alice')],
      permissions: [to({ paths: ['/metrics'], ports: [9090] })],
    },
  ];
  const sets: Record<string, PolicySet> = {
    paths: set(
      [
        policy('allow', 'ALLOW', [
          rule('api', {
            to: [
              to({
                methods: ['GET', 'POST'],
                paths: [
                  '/api/*',
                  '/x*',
                  '/items/{*}/reviews/{**}',
                  '*.png',
                  '/exact',
                  '*3A',
                  '*a',
                  '/{**}/end',
                ],
              }),
            ],
          }),
          rule('case', {
            to: [to({ paths: ['/Case/*', '*.JPG'], ignoreCase: true, notPaths: ['/case/secret'] })],
          }),
          rule('roles', { roles: ['reader', 'scraper'] }),
          rule('ports', { to: [to({ paths: ['/p/*'], ports: [80], notPorts: [9090] })] }),
        ]),
        policy('deny', 'DENY', [
          rule('admin', { to: [to({ paths: ['/admin/*'], ignoreCase: true })] }),
          rule('delete', { to: [to({ methods: ['DELETE'] })] }),
          rule('not-get', { to: [to({ paths: ['/ro/*'], notMethods: ['GET'] })] }),
        ]),
        policy('dry', 'DENY', [rule('beta', { to: [to({ paths: ['/api/beta/*'] })] })], {
          dryRun: true,
        }),
        policy('audit', 'AUDIT', [rule('posts', { to: [to({ methods: ['POST'] })] })]),
      ],
      'DENY',
      roles,
    ),
    hosts: set([
      policy('allow', 'ALLOW', [
        rule('hosts', {
          to: [to({ hosts: ['backend', 'api.example.com:8443', '*.internal', 'web.*', '*:9000'] })],
        }),
        rule('not-hosts', { to: [to({ paths: ['/nh/*'], notHosts: ['backend'] })] }),
      ]),
    ]),
    headers: set([
      policy('allow', 'ALLOW', [
        rule('roles', { when: [header('x-role', ['admin', 'ops-*', 'a/*'])] }),
        rule('any', {
          to: [to({ paths: ['/any/*'] })],
          when: [header('x-tenant', ['*'], ['evil*', '*-x'])],
        }),
        rule('none', {
          to: [to({ paths: ['/none/*'] })],
          when: [header('x-tenant', [], ['evil'])],
        }),
      ]),
      policy('deny', 'DENY', [
        rule('guest', {
          when: [header('x-role', ['guest', 'ban*', '*-blocked', 'a, b', ' spaced'])],
        }),
        rule('not-listed', {
          to: [to({ paths: ['/listed/*'] })],
          when: [header('x-tenant', [], ['acme', 'corp'])],
        }),
        rule('absent', {
          to: [to({ paths: ['/absent/*'] })],
          when: [header('x-tenant', [], ['*'])],
        }),
      ]),
    ]),
    callers: set([
      policy('allow', 'ALLOW', [
        rule('principals', {
          from: [
            from({
              principals: [
                'spiffe://example.org/frontend',
                'spiffe://example.org/ops/*',
                '*/partner',
              ],
            }),
          ],
        }),
        rule('domains', {
          to: [to({ paths: ['/td/*'] })],
          from: [from({ trustDomains: ['other.org'], notPrincipals: ['spiffe://other.org/evil'] })],
        }),
        rule('ip', {
          to: [to({ paths: ['/ip/*'] })],
          when: [sourceIp(['10.0.0.0/8', '2001:db8::/32'], ['10.9.0.0/16'])],
        }),
      ]),
      policy('deny', 'DENY', [
        rule('ip', { to: [to({ paths: ['/noip/*'] })], when: [sourceIp(['10.1.0.0/16'])] }),
      ]),
      policy(
        'dry',
        'ALLOW',
        [rule('frontend', { from: [from({ principals: ['spiffe://example.org/frontend'] })] })],
        { dryRun: true },
      ),
    ]),
    istio: set(
      [policy('deny', 'DENY', [rule('blocked', { to: [to({ paths: ['/blocked'] })] })])],
      'ALLOW',
    ),
  };
  const pools = {
    path: [
      '/',
      '/api',
      '/api/',
      '/api/x',
      '/API/x',
      '/apix',
      '/x',
      '/xyz',
      '/admin',
      '/admin/',
      '/Admin/x',
      '/adminx',
      '/h%3a',
      '/h%3A',
      '/h3A',
      '/h%253a',
      '/h%3a%3a',
      '/ha',
      '/h%2a',
      '/items/1/reviews',
      '/items/1/reviews/a/b',
      '/items/reviews',
      '/img/a.png',
      '/img/a.png/',
      '/img/a.PNG',
      '/exact',
      '/exact/',
      '/exact/x',
      '/case/x',
      '/CASE/Y',
      '/case/secret',
      '/CASE/SECRET',
      '/a.jpg',
      '/catalogue',
      '/catalogue/x',
      '/metrics',
      '/p/x',
      '/ro/x',
      '/api/beta/x',
      '/a/b/end',
      '/end',
      '/a;b',
      '/a%zz',
      '/a%4',
      '/a[b]',
      '/a%5Bb',
      '/api/x?q=1;2',
      '/listed/x',
      '/absent/x',
      '/any/x',
      '/none/x',
      '/nh/x',
      '/td/x',
      '/ip/x',
      '/noip/x',
      '/blocked',
      '/blocked/',
      `/${'a'.repeat(8192)}`,
    ],
    authority: [
      'backend',
      'BACKEND',
      'backend.',
      'backend:80',
      'backend:8080',
      'backend.:9000',
      'api.example.com:8443',
      'api.example.com:08443',
      'api.example.com',
      'db.internal',
      'x.db.internal.:9000',
      'internal',
      'web.a',
      'web.',
      'web',
      'x:9000',
      '[::1]',
      '[::1]:9000',
      'a..b',
      'backend:0',
      'backend:65536',
      'user@x',
      '',
      '-x',
      `${'a'.repeat(253)}`,
      `${'a'.repeat(253)}.:1`,
      `${'a'.repeat(254)}`,
      'back end',
    ],
    method: ['GET', 'GET', 'POST', 'HEAD', 'DELETE', 'delete', 'PUT'],
    role: [
      [],
      ['admin'],
      ['admin', 'admin'],
      ['admin, admin'],
      ['ops-1'],
      ['ops-'],
      ['admin', 'ops-x'],
      ['admin', 'user'],
      [''],
      ['guest'],
      ['admin,guest'],
      ['x', 'guest'],
      ['a, b'],
      ['a', 'b'],
      [' spaced'],
      ['\u00a0guest'],
      ['guest\t,x'],
      ['guests'],
      ['banned'],
      ['x-blocked'],
      ['x-blocked ,y'],
      ['a/'],
      ['a'],
      ['a/b'],
    ],
    tenant: [
      [],
      ['acme'],
      ['corp'],
      ['acme', 'corp'],
      ['acme,corp'],
      ['other'],
      ['evil'],
      ['evil-1'],
      ['a-x'],
      [''],
    ],
    principal: [
      undefined,
      'spiffe://example.org/frontend',
      'spiffe://example.org/ops/alice',
      'spiffe://example.org/ops',
      'spiffe://example.org/guest',
      'spiffe://other.org/partner',
      'spiffe://other.org/evil',
      'spiffe://example.org',
    ],
    address: ['127.0.0.1', '10.1.2.3', '10.9.1.1', '::ffff:10.1.2.3', '2001:db8::1', '192.168.0.1'],
    port: [INBOUND_PORT, 80, 9090],
  };

  for (const [name, s] of Object.entries(sets)) {
    it(`agrees on 3000 sampled requests (${name})`, () => {
      const filters = native(s);
      const pick = <T>(r: () => number, xs: readonly T[]): T =>
        xs[Math.floor(r() * xs.length)] as T;
      const r = random(name.length * 7919);
      const problems: string[] = [];
      for (let n = 0; n < 3000; n++) {
        const headers = new Map<string, string[]>();
        const role = pick(r, pools.role);
        const tenant = pick(r, pools.tenant);
        if (role.length > 0) headers.set('x-role', [...role]);
        if (tenant.length > 0) headers.set('x-tenant', [...tenant]);
        const principal = pick(r, pools.principal);
        const req: SimulatedRequest = {
          path: pick(r, pools.path),
          authority: pick(r, pools.authority),
          method: pick(r, pools.method),
          headers,
          ...(principal !== undefined && { principal }),
          address: pick(r, pools.address),
          port: pick(r, pools.port),
        };
        const envoy = simulateRbac(filters, req);
        const decision = evaluateRequest(s, {
          source: { ...(principal !== undefined && { principal }), address: req.address },
          destination: {
            service: BACKEND.service,
            principal: BACKEND.spiffeId,
            port: BACKEND.ports?.includes(req.port) ? req.port : 80,
          },
          request: {
            method: req.method,
            host: req.authority,
            path: req.path,
            headers: Object.fromEntries(headers),
          },
          time: new Date(0),
        });
        const md = envoy.metadata;
        const refused = envoy.deniedBy?.prefix === RBAC_STAT_PREFIX.request;
        const shadow = [RBAC_STAT_PREFIX.deny, RBAC_STAT_PREFIX.allow].map(
          (p) => md[`${p}shadow_engine_result`],
        );
        const wouldDeny = shadow.includes('denied') ? 'deny' : 'allow';
        const audit = md[`${RBAC_STAT_PREFIX.audit}enforced_effective_policy_id`];
        const mismatch =
          (envoy.allowed ? 'allow' : 'deny') !== decision.outcome ||
          refused !== (decision.decidedBy.kind === 'request') ||
          (decision.dryRun !== undefined && !refused && wouldDeny !== decision.dryRun.outcome) ||
          (!refused && (audit !== undefined) !== decision.audit.length > 0);
        if (mismatch) {
          problems.push(
            `${JSON.stringify({ ...req, path: req.path.slice(0, 40), authority: req.authority.slice(0, 40), headers: Object.fromEntries(headers) })}: RBAC ${JSON.stringify(envoy)}; evaluator ${decision.outcome} (${decision.why}) dry-run ${decision.dryRun?.outcome ?? '-'} audit ${decision.audit.length}`,
          );
        }
      }
      assert.deepEqual(problems.slice(0, 5), []);
    });
  }
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuthorizationPolicy } from './mesh-config.js';
import { formatMeshProblem } from './mesh-problem.js';
import { parseMeshConfig } from './parse-mesh-config.js';

const SERVICES = `apiVersion: parley.dev/v1
kind: Service
metadata: { name: backend }
spec:
  spiffeId: spiffe://example.org/backend
  ports: [{ name: http, port: 8080 }]
  attributes: { environment: prod, team: shop, sensitivity: internal }
---
apiVersion: parley.dev/v1
kind: Service
metadata: { name: frontend }
spec:
  spiffeId: spiffe://example.org/frontend
  ports: [{ name: http, port: 8080 }]
  attributes: { environment: prod, team: web }
`;

const HEAD = `apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: p }
spec:
`;

/** Parses SERVICES and `text` (as x.yaml); the problems, then the cross-document ones. */
function parse(text: string): { problems: string[]; policies: AuthorizationPolicy[] } {
  const r = parseMeshConfig([
    { path: 'services.yaml', text: SERVICES },
    { path: 'x.yaml', text },
  ]);
  // parseMeshConfig runs the cross-document checks (checkAuthorizationPolicies) too.
  if (!r.ok) return { problems: r.problems.map(formatMeshProblem), policies: [] };
  return { problems: [], policies: [...r.config.authorizationPolicies] };
}

const GOOD = `${HEAD}  selector: { services: [backend] }
  action: ALLOW
  rules:
    - name: frontend-reads
      from:
        - principals: [spiffe://example.org/frontend, spiffe://example.org/ns/*, "*/ops"]
          notTrustDomains: [evil.example]
      to:
        - hosts: [backend, "backend:8080", "*.example.org"]
          methods: [GET]
          paths: [/api/*, "/items/{*}/reviews/{**}", "*.png", /exact]
          notPaths: [/api/internal/*]
          ports: [8080]
          ignoreCase: true
      when:
        - { key: "request.headers[x-role]", values: [analyst, "ops-*"] }
        - { key: "request.auth.claims[realm][roles]", values: [admin] }
        - { key: source.ip, values: [10.0.0.0/8, "::1", "fd00::/8"] }
        - { key: source.attributes.team, values: [web] }
        - { key: destination.attributes.sensitivity, notValues: [internal] }
        - { time: { days: [Mon, Tue, Wed, Thu, Fri], start: "09:00", end: "17:30" } }
        - expression: >-
            source.attributes.team == destination.attributes.team ||
            (request.headers['x-env'] in ['prod', 'staging'] && !request.path.startsWith('/debug'))
    - roles: [reader]
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: mesh }
spec:
  defaultAction: DENY
  roles:
    - name: reader
      principals: [spiffe://example.org/frontend]
      permissions: [{ methods: [GET], paths: [/catalogue/*] }]
`;

describe('readAuthorizationPolicy', () => {
  it('reads a full policy into typed patterns, conditions and expressions', () => {
    const { problems, policies } = parse(GOOD);
    assert.deepEqual(problems, []);
    const mesh = policies.find((p) => p.metadata.name === 'mesh');
    assert.equal(mesh?.defaultAction, 'DENY');
    assert.equal(mesh?.roles[0]?.name, 'reader');
    const p = policies.find((q) => q.metadata.name === 'p');
    const rule = p?.rules[0];
    assert.deepEqual(p?.selector, { services: ['backend'], spiffeIds: [] });
    assert.deepEqual(
      rule?.from[0]?.principals.map((x) => x.kind),
      ['exact', 'prefix', 'suffix'],
    );
    assert.deepEqual(rule?.to[0]?.hosts[1], {
      name: { kind: 'exact', value: 'backend', text: 'backend' },
      port: 8080,
      text: 'backend:8080',
    });
    assert.deepEqual(rule?.to[0]?.paths[1], {
      kind: 'template',
      segments: ['items', { wildcard: '*' }, 'reviews', { wildcard: '**' }],
      text: '/items/{*}/reviews/{**}',
    });
    assert.deepEqual(
      rule?.when.map((c) => c.kind),
      ['header', 'claim', 'sourceIp', 'attribute', 'attribute', 'time', 'expression'],
    );
    assert.deepEqual(rule?.when[1], {
      kind: 'claim',
      path: ['realm', 'roles'],
      values: [{ kind: 'exact', value: 'admin', text: 'admin' }],
      notValues: [],
    });
    assert.deepEqual(rule?.when[5], { kind: 'time', days: [1, 2, 3, 4, 5], start: 540, end: 1050 });
    const expr = rule?.when[6];
    assert.equal(expr?.kind === 'expression' && expr.expression.op, 'or');
    assert.equal(p?.rules[1]?.name, 'rule-1');
  });

  const BAD: [string, string, string[]][] = [
    [
      'bad patterns, with file:line and field path',
      `${HEAD}  rules:
    - from:
        - principals: [spiffe://example.org/a*b, "*frontend", not-an-id]
      to:
        - paths: [admin, /a//b, "/a/%2Fb", /a/*/b, "/x/{*}y"]
          hosts: [Backend, "backend:80"]
          methods: [get]
          ports: [0]`,
      [
        'x.yaml:7: spec.rules[0].from[0].principals[0]: may hold one "*", at its start or end',
        'x.yaml:7: spec.rules[0].from[0].principals[1]: a suffix pattern is "*/path" (the end of a SPIFFE ID path)',
        'x.yaml:7: spec.rules[0].from[0].principals[2]: ',
        'x.yaml:9: spec.rules[0].to[0].paths[0]: must start with "/" (or be "*", "*suffix")',
        'x.yaml:9: spec.rules[0].to[0].paths[1]: is not a normalized path ("//", "/./" and "/../" are normalized away)',
        'x.yaml:9: spec.rules[0].to[0].paths[2]: is not a normalized path',
        'x.yaml:9: spec.rules[0].to[0].paths[3]: "*" may only start or end a path (or use {*}, {**})',
        'x.yaml:9: spec.rules[0].to[0].paths[4]: "{*}" and "{**}" must each be a whole segment',
        'x.yaml:10: spec.rules[0].to[0].hosts[0]: must be lower-case (hosts are matched ignoring case)',
        'x.yaml:10: spec.rules[0].to[0].hosts[1]: must not name the default port 80 (it is dropped before matching)',
        'x.yaml:11: spec.rules[0].to[0].methods[0]: must be one of',
        'x.yaml:12: spec.rules[0].to[0].ports[0]: must be a port (1-65535)',
      ],
    ],
    [
      'bad conditions and expression syntax',
      `${HEAD}  rules:
    - when:
        - { key: "request.query[x]", values: [a] }
        - { key: source.attributes.owner, values: [a] }
        - { key: source.ip, values: [10.0.0.0/33, 300.1.1.1] }
        - { key: "request.headers[x-a]" }
        - { expression: "request.headers['x'] == ", time: { days: [Mon] } }
        - { expression: "request.body == 'x'" }
        - { expression: "source.principal.contains('x')" }
        - { expression: "source.principal == 'a' &&" }
        - { expression: "'unterminated" }
        - { time: { days: [Funday], start: "25:00", end: "10:00" } }
        - { expression: "request.path == 'a'", bogus: 1 }`,
      [
        'x.yaml:7: spec.rules[0].when[0].key: unknown key "request.query[x]"',
        'x.yaml:8: spec.rules[0].when[1].key: unknown attribute "owner" (known: environment, team, sensitivity)',
        'x.yaml:9: spec.rules[0].when[2].values[0]: has a prefix length that is not 0-32',
        'x.yaml:9: spec.rules[0].when[2].values[1]: must be an IP address or CIDR block',
        'x.yaml:10: spec.rules[0].when[3]: needs values or notValues',
        'x.yaml:11: spec.rules[0].when[4]: must have exactly one of key (with values/notValues), expression, time',
        'x.yaml:12: spec.rules[0].when[5].expression: at column 1: unknown attribute "request.body"',
        'x.yaml:13: spec.rules[0].when[6].expression: at column 18: unsupported function "contains" (startsWith, endsWith)',
        'x.yaml:14: spec.rules[0].when[7].expression: at column 27: the expression ends too early',
        'x.yaml:15: spec.rules[0].when[8].expression: at column 1: unterminated string',
        'x.yaml:16: spec.rules[0].when[9].time.days[0]: must be one of Sun, Mon, Tue, Wed, Thu, Fri, Sat',
        'x.yaml:16: spec.rules[0].when[9].time.start: must be a UTC time HH:MM (00:00-24:00)',
        'x.yaml:17: spec.rules[0].when[10].bogus: unknown field',
      ],
    ],
    [
      'a settings policy that also selects, and an empty selector',
      `${HEAD}  defaultAction: DENY
  selector: {}
  rules: []`,
      [
        'x.yaml:6: spec.selector: must list services or spiffeIds (omit selector for every workload)',
        'x.yaml:6: spec.selector: is not allowed in the mesh settings policy (defaultAction, roles)',
        'x.yaml:7: spec.rules: is not allowed in the mesh settings policy (defaultAction, roles)',
      ],
    ],
  ];

  for (const [what, text, expected] of BAD) {
    it(`reports ${what}`, () => {
      const got = parse(text).problems;
      assert.equal(got.length, expected.length, got.join('\n'));
      expected.forEach((e, i) => assert.ok(got[i]?.startsWith(e), `${got[i]} !~ ${e}`));
    });
  }
});

describe('checkAuthorizationPolicies', () => {
  it('reports unknown services, roles, attribute values, unmatched selectors, two defaults', () => {
    const { problems } =
      parse(`${HEAD}  selector: { services: [nosuch], spiffeIds: [spiffe://example.org/zz/*] }
  rules:
    - roles: [writer]
      when: [{ key: destination.attributes.team, values: [shp] }]
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: m1 }
spec: { defaultAction: DENY, roles: [{ name: r, principals: ["*"], permissions: [{}] }] }
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: m2 }
spec: { defaultAction: ALLOW, roles: [{ name: r, principals: ["*"], permissions: [{}] }] }
`);
    assert.deepEqual(problems, [
      'x.yaml:5: spec.selector.services[0]: no Service named "nosuch"',
      'x.yaml:5: spec.selector.spiffeIds[0]: "spiffe://example.org/zz/*" selects no Service',
      'x.yaml:7: spec.rules[0].roles[0]: no role named "writer"',
      'x.yaml:8: spec.rules[0].when[0].values[0]: no Service declares team: shp',
      'x.yaml:18: spec.defaultAction: is already set by "m1" (x.yaml:11)',
      'x.yaml:18: spec.roles[0].name: role "r" is already defined by "m1"',
    ]);
  });
});

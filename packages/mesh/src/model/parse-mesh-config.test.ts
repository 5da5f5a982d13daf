import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatMeshProblem } from './mesh-problem.js';
import { MESH_CONFIG_LIMITS, parseMeshConfig } from './parse-mesh-config.js';
import { re2RegexProblem } from './re2-regex.js';
import { parseEndpoint } from './read-service.js';

const SERVICES = `apiVersion: parley.dev/v1
kind: Service
metadata: { name: a }
spec:
  spiffeId: spiffe://example.org/a
  ports: [{ name: http, port: 80 }]
  endpoints:
    - { name: a-0, inbound: 127.0.0.1:15001, app: 127.0.0.1:8001 }
---
apiVersion: parley.dev/v1
kind: Service
metadata: { name: b }
spec:
  spiffeId: spiffe://example.org/b
  ports: [{ name: http, port: 80 }]
`;

/** Problems of `text` (as file x.yaml, next to SERVICES in services.yaml), formatted. */
function problems(text: string): string[] {
  const r = parseMeshConfig([
    { path: 'services.yaml', text: SERVICES },
    { path: 'x.yaml', text },
  ]);
  return r.ok ? [] : r.problems.map(formatMeshProblem);
}

const route = (rules: string) => `apiVersion: parley.dev/v1
kind: Route
metadata: { name: r }
spec:
  host: a
  rules:
${rules}`;

const service = (spec: string) => `apiVersion: parley.dev/v1
kind: Service
metadata: { name: c }
spec:
  spiffeId: spiffe://example.org/c
  ports: [{ name: http, port: 80 }]
${spec}`;

/** Each bad config with the exact problems expected (file:line: path: message). */
const BAD: readonly [string, string, readonly string[]][] = [
  [
    'weights that do not sum to 100',
    route(`    - destinations:
        - { service: a, weight: 80 }
        - { service: b, weight: 10 }`),
    ['x.yaml:7: spec.rules[0].destinations: weights sum to 90, not 100'],
  ],
  [
    'a missing weight among several destinations',
    route(`    - destinations: [{ service: a }, { service: b, weight: 10 }]`),
    [
      'x.yaml:7: spec.rules[0].destinations[0].weight: is required when a rule has several destinations',
    ],
  ],
  [
    'a destination that does not exist',
    route(`    - destinations: [{ service: nope }]`),
    ['x.yaml:7: spec.rules[0].destinations[0].service: no Service named "nope"'],
  ],
  [
    'an unknown field',
    route(`    - destinations: [{ service: a }]
      retrys: { attempts: 2 }`),
    ['x.yaml:8: spec.rules[0].retrys: unknown field'],
  ],
  [
    'a lookaround regex and a backreference',
    route(`    - match:
        path: { regex: "^/(?!admin)" }
        headers: [{ name: x-a, regex: "(a)\\\\1" }]
      destinations: [{ service: a }]`),
    [
      'x.yaml:8: spec.rules[0].match.path.regex: uses a lookaround, which RE2 does not support',
      'x.yaml:9: spec.rules[0].match.headers[0].regex: uses a backreference, which RE2 does not support',
    ],
  ],
  [
    'a duplicate rule and an unreachable one',
    route(`    - match: { method: GET }
      destinations: [{ service: a }]
    - match: { method: GET }
      destinations: [{ service: b }]
    - destinations: [{ service: a }]
    - destinations: [{ service: b }]`),
    [
      'x.yaml:9: spec.rules[1].match: is the same match as rules[0]: this rule is unreachable',
      'x.yaml:12: spec.rules[3]: is unreachable: rules[2] matches every request',
    ],
  ],
  [
    'a bad duration, percentage and status',
    route(`    - destinations: [{ service: a }]
      timeout: 2 minutes
      fault:
        abort: { httpStatus: 99, percentage: 101 }`),
    [
      'x.yaml:8: spec.rules[0].timeout: invalid duration "2 minutes": expected e.g. 90, 90s, 15m, 1h30m, 500ms',
      'x.yaml:10: spec.rules[0].fault.abort.httpStatus: must be an integer between 200 and 599',
      'x.yaml:10: spec.rules[0].fault.abort.percentage: must be a number from 0 to 100 (at most 4 decimals)',
    ],
  ],
  [
    'a second Route for the same host',
    `${route('    - destinations: [{ service: a }]')}
---
apiVersion: parley.dev/v1
kind: Route
metadata: { name: r2 }
spec:
  host: a
  rules: [{ destinations: [{ service: a }] }]`,
    ['x.yaml:13: spec.host: Route "r" (x.yaml:2) already routes host "a"'],
  ],
  [
    'a duplicate Service name',
    `apiVersion: parley.dev/v1
kind: Service
metadata: { name: a }
spec:
  spiffeId: spiffe://example.org/a
  ports: [{ name: http, port: 80 }]`,
    ['x.yaml:3: metadata.name: duplicate Service "a" (first at services.yaml:2)'],
  ],
  [
    'a SPIFFE ID used by two services',
    `apiVersion: parley.dev/v1
kind: Service
metadata: { name: c }
spec:
  spiffeId: spiffe://example.org/b
  ports: [{ name: http, port: 80 }]`,
    [
      'x.yaml:5: spec.spiffeId: SPIFFE ID spiffe://example.org/b is already the identity of Service "b"',
    ],
  ],
  [
    'an invalid SPIFFE ID, port and protocol',
    `apiVersion: parley.dev/v1
kind: Service
metadata: { name: d }
spec:
  spiffeId: https://example.org/d
  ports: [{ name: http, port: 0, protocol: udp }]`,
    [
      'x.yaml:5: spec.spiffeId: invalid SPIFFE ID: scheme is missing or invalid (must be spiffe:// in lowercase)',
      'x.yaml:6: spec.ports[0].port: must be an integer between 1 and 65535',
      'x.yaml:6: spec.ports[0].protocol: must be one of http, http2, grpc, tcp',
    ],
  ],
  [
    'endpoints: reused inbound address, app off loopback, bad address',
    service(`  endpoints:
    - { name: c-0, inbound: 127.0.0.1:15001, app: 10.0.0.1:80 }
    - { name: c-1, inbound: localhost:1, app: 127.0.0.1:80 }`),
    [
      'x.yaml:8: spec.endpoints[0].app: must be a loopback address (the sidecar forwards to the app on localhost)',
      'x.yaml:8: spec.endpoints[0].inbound: 127.0.0.1:15001 is already the inbound address of a/a-0',
      'x.yaml:9: spec.endpoints[1].inbound: "localhost:1" is not an IP:port address such as 127.0.0.1:8080',
    ],
  ],
  [
    'the same inbound address as another service',
    service(`  endpoints:
    - { name: c-0, inbound: 127.0.0.1:15001, app: 127.0.0.1:80 }`),
    [
      'x.yaml:8: spec.endpoints[0].inbound: 127.0.0.1:15001 is already the inbound address of a/a-0',
    ],
  ],
  [
    'a wrong apiVersion, unknown kind and bad YAML',
    `apiVersion: parley.dev/v2
kind: Service
metadata: { name: e }
spec: { spiffeId: spiffe://example.org/e, ports: [{ name: http, port: 1 }] }
---
apiVersion: parley.dev/v1
kind: Gateway
---
key: [unclosed`,
    [
      'x.yaml:1: apiVersion: must be parley.dev/v1',
      'x.yaml:7: kind: must be one of Service, Route, TrafficPolicy, AuthorizationPolicy, SecretPolicy, TokenPolicy',
      'x.yaml:9: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
  ],
  [
    'a TrafficPolicy for a missing host, with ring hash options on round robin',
    `apiVersion: parley.dev/v1
kind: TrafficPolicy
metadata: { name: p }
spec:
  host: zz
  loadBalancer: { policy: roundRobin, ringHash: { header: x-user } }
  outlierDetection: { maxEjectionPercent: 101 }`,
    [
      'x.yaml:5: spec.host: no Service named "zz"',
      'x.yaml:6: spec.loadBalancer.ringHash: is only allowed with policy ringHash',
      'x.yaml:7: spec.outlierDetection.maxEjectionPercent: must be an integer between 0 and 100',
    ],
  ],
  [
    'a Route egress with a bad audience, an unknown source and scopes without oauth',
    `apiVersion: parley.dev/v1
kind: Route
metadata: { name: r }
spec:
  host: a
  egress: { token: { audience: "a?b", source: magic } }
  rules: [{ destinations: [{ service: a }] }]
---
apiVersion: parley.dev/v1
kind: Route
metadata: { name: s }
spec:
  host: b
  egress: { token: { audience: b, scopes: [read] } }
  rules: [{ destinations: [{ service: b }] }]`,
    [
      'x.yaml:6: spec.egress.token.source: must be one of jwt-svid, oauth',
      'x.yaml:6: spec.egress.token.audience: must be 1-512 printable ASCII characters without spaces or "?"',
      'x.yaml:14: spec.egress.token.scopes: only applies to source: oauth',
    ],
  ],
  [
    'a TokenPolicy with a bad client, grant, scope and a missing subjects',
    `apiVersion: parley.dev/v1
kind: TokenPolicy
metadata: { name: t }
spec:
  rules:
    - clients: [not-an-id]
      grants: [implicit, token-exchange]
      audiences: [a]
      scopes: ["has space"]
      maxTtl: 48h`,
    [
      'x.yaml:6: spec.rules[0].subjects: is required when grants include token-exchange',
      'x.yaml:6: spec.rules[0].clients[0]: invalid SPIFFE ID: scheme is missing or invalid (must be spiffe:// in lowercase)',
      'x.yaml:7: spec.rules[0].grants[0]: must be one of client_credentials, token-exchange',
      'x.yaml:9: spec.rules[0].scopes[0]: must be an RFC 6749 scope token (printable ASCII, no space, " or \\)',
      'x.yaml:10: spec.rules[0].maxTtl: must be between 1s and 24h',
    ],
  ],
  [
    'an AuthorizationPolicy with an unknown key and a bad action',
    `apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: z }
spec:
  action: MAYBE
  rules: [{ from: [] }, 3]
  when: []`,
    [
      'x.yaml:5: spec.action: must be one of ALLOW, DENY, AUDIT',
      'x.yaml:6: spec.rules[1]: must be a map',
      'x.yaml:7: spec.when: unknown field',
    ],
  ],
];

describe('parseMeshConfig', () => {
  for (const [what, text, expected] of BAD) {
    it(`reports ${what}`, () => {
      assert.deepEqual(problems(text), expected);
    });
  }

  it('reports every problem of every file at once, sorted by file and line', () => {
    const r = parseMeshConfig([
      { path: 'b.yaml', text: route('    - destinations: [{ service: q }]') },
      {
        path: 'a.yaml',
        text: 'apiVersion: parley.dev/v1\nkind: Service\nmetadata: { name: A }\nspec: {}\n',
      },
    ]);
    assert.equal(r.ok, false);
    assert.deepEqual(r.ok ? [] : r.problems.map(formatMeshProblem), [
      'a.yaml:3: metadata.name: must be a DNS label (lower-case letters, digits and "-", at most 63)',
      'a.yaml:4: spec.spiffeId: is required',
      'a.yaml:4: spec.ports: is required',
      'b.yaml:5: spec.host: no Service named "a"',
      'b.yaml:7: spec.rules[0].destinations[0].service: no Service named "q"',
    ]);
  });

  it('accepts a valid config and settles the weight of a single destination', () => {
    const r = parseMeshConfig([
      { path: 'services.yaml', text: SERVICES },
      { path: 'r.yaml', text: route('    - destinations: [{ service: b }]') },
    ]);
    assert.ok(r.ok);
    assert.deepEqual(r.config.routes[0]?.rules[0]?.destinations, [{ service: 'b', weight: 100 }]);
    assert.deepEqual(
      r.config.services.map((s) => [
        s.metadata.name,
        s.spiffeId.toString(),
        s.sidecar.outboundPort,
      ]),
      [
        ['a', 'spiffe://example.org/a', 15001],
        ['b', 'spiffe://example.org/b', 15001],
      ],
    );
  });

  it('bounds its input', () => {
    const big = 'x'.repeat(MESH_CONFIG_LIMITS.fileBytes + 1);
    const r = parseMeshConfig([{ path: 'big.yaml', text: big }]);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : (r.problems[0]?.message ?? ''), /larger than/);
    const many = Array.from({ length: MESH_CONFIG_LIMITS.files + 1 }, (_, i) => ({
      path: `${i}.yaml`,
      text: '',
    }));
    assert.equal(parseMeshConfig(many).ok, false);
  });
});

describe('re2RegexProblem', () => {
  for (const ok of [
    '^/api/v[0-9]+/.*$',
    '(?i)abc',
    '(?P<id>[a-z]+)',
    '\\Afoo\\z',
    '[[:alpha:]]+',
  ]) {
    it(`accepts ${ok}`, () => assert.equal(re2RegexProblem(ok), undefined));
  }
  for (const [bad, why] of [
    ['(?<=a)b', /lookaround/],
    ['(?>a)', /atomic/],
    ['a++', /possessive/],
    ['(a)\\1', /backreference/],
    ['a{1001}', /1000/],
    ['(abc){90}', /too complex/],
    ['a'.repeat(300), /longer than/],
    ['(', /does not compile/],
  ] as const) {
    it(`rejects ${bad.slice(0, 20)}`, () => assert.match(re2RegexProblem(bad) ?? '', why));
  }
});

describe('parseEndpoint', () => {
  it('parses a registered endpoint with the rules of a static one', () => {
    const ok = parseEndpoint({
      name: 'x-0',
      inbound: '[::1]:15001',
      app: '127.0.0.1:80',
      weight: 2,
    });
    assert.deepEqual(ok, {
      ok: true,
      endpoint: {
        name: 'x-0',
        inbound: { host: '::1', port: 15001 },
        app: { host: '127.0.0.1', port: 80 },
        weight: 2,
      },
    });
    const bad = parseEndpoint({
      name: 'x-0',
      inbound: '127.0.0.1:1',
      app: '127.0.0.1:80',
      extra: 1,
    });
    assert.deepEqual(bad, { ok: false, problems: [{ path: 'extra', message: 'unknown field' }] });
  });
});

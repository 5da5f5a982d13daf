import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
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
        'x.yaml:6: spec.selector: is not allowed in the mesh settings policy (defaultAction, roles, jwtIssuers)',
        'x.yaml:7: spec.rules: is not allowed in the mesh settings policy (defaultAction, roles, jwtIssuers)',
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

/** A public JWK of a fresh key pair, and its private JWK (for the "private member" cases). */
function jwkPair(
  type: 'ec' | 'rsa' | 'ed25519',
  options: { namedCurve?: string; modulusLength?: number } = {},
): { pub: Record<string, unknown>; priv: Record<string, unknown> } {
  const pair =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: options.namedCurve ?? 'P-256' })
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: options.modulusLength ?? 2048 })
        : generateKeyPairSync('ed25519');
  return {
    pub: pair.publicKey.export({ format: 'jwk' }),
    priv: pair.privateKey.export({ format: 'jwk' }),
  };
}

/** A settings document with `issuers` (YAML flow text of each item). */
const settingsWith = (...issuers: string[]) =>
  `${HEAD}  defaultAction: DENY\n  jwtIssuers:\n${issuers.map((i) => `    - ${i}\n`).join('')}`;

/** A JWKS as the single-quoted YAML string of a `jwks` field. */
const jwksField = (...keys: unknown[]) => `'${JSON.stringify({ keys })}'`;

describe('jwtIssuers', () => {
  const ec = jwkPair('ec');
  const rsa = jwkPair('rsa');
  const ed = jwkPair('ed25519');

  it('reads inline and remote issuers into typed keys, audiences and headers', () => {
    const { problems, policies } = parse(
      settingsWith(
        `{ issuer: https://tokens.example.org, audiences: [orders, "https://shop/"], jwks: ${jwksField(
          { ...ec.pub, kid: 'ec-1', use: 'sig', alg: 'ES256', x5t: 'ignored' },
          { ...rsa.pub, kid: 'rsa-1', alg: 'PS256' },
          { ...ed.pub },
        )} }`,
        '{ issuer: partner, jwksUri: "http://127.0.0.1:8443/jwks", fromHeaders: [{ name: x-jwt }, { name: authorization, prefix: "Token " }] }',
      ),
    );
    assert.deepEqual(problems, []);
    const [inline, remote] = policies[0]?.jwtIssuers ?? [];
    assert.equal(inline?.issuer, 'https://tokens.example.org');
    assert.deepEqual(inline?.audiences, ['orders', 'https://shop/']);
    assert.deepEqual(inline?.fromHeaders, [{ name: 'authorization', prefix: 'Bearer ' }]);
    assert.deepEqual(inline?.jwks, {
      kind: 'inline',
      keys: [
        { kid: 'ec-1', alg: 'ES256', kty: 'EC', crv: 'P-256', x: ec.pub['x'], y: ec.pub['y'] },
        { kid: 'rsa-1', alg: 'PS256', kty: 'RSA', n: rsa.pub['n'], e: rsa.pub['e'] },
        { kty: 'OKP', crv: 'Ed25519', x: ed.pub['x'] },
      ],
    });
    assert.deepEqual(remote, {
      issuer: 'partner',
      audiences: [],
      jwks: { kind: 'remote', uri: 'http://127.0.0.1:8443/jwks' },
      fromHeaders: [
        { name: 'x-jwt', prefix: '' },
        { name: 'authorization', prefix: 'Token ' },
      ],
    });
    assert.deepEqual(policies[0]?.rules, []);
  });

  it('makes a document with only jwtIssuers a settings document', () => {
    const { problems } = parse(
      `${HEAD}  jwtIssuers: [{ issuer: a, jwksUri: "https://a.example/jwks" }]\n  action: DENY\n`,
    );
    assert.deepEqual(problems, [
      'x.yaml:6: spec.action: is not allowed in the mesh settings policy (defaultAction, roles, jwtIssuers)',
    ]);
  });

  it('refuses private keys without quoting their material', () => {
    const { problems } = parse(
      settingsWith(
        `{ issuer: a, jwks: ${jwksField(ec.pub, ec.priv)} }`,
        `{ issuer: b, jwks: ${jwksField(rsa.priv)} }`,
      ),
    );
    assert.deepEqual(problems, [
      'x.yaml:7: spec.jwtIssuers[0].jwks: keys[1]: holds the private member "d": a JWKS in the repository holds public keys only',
      'x.yaml:8: spec.jwtIssuers[1].jwks: keys[0]: holds the private member "d": a JWKS in the repository holds public keys only',
    ]);
    for (const secret of [ec.priv['d'], rsa.priv['d'], rsa.priv['p']]) {
      assert.ok(!problems.join('\n').includes(String(secret)));
    }
  });

  const small = jwkPair('rsa', { modulusLength: 1024 });
  const p521 = jwkPair('ec', { namedCurve: 'P-521' });
  const BAD: [string, string, string[]][] = [
    [
      'keys of the wrong kind, size, curve, use or alg',
      settingsWith(
        `{ issuer: a, jwks: ${jwksField(small.pub)} }`,
        `{ issuer: b, jwks: ${jwksField(p521.pub)} }`,
        `{ issuer: c, jwks: ${jwksField({ kty: 'oct', k: 'c2VjcmV0' })} }`,
        `{ issuer: d, jwks: ${jwksField({ kty: 'oct' })} }`,
        `{ issuer: e, jwks: ${jwksField({ ...ec.pub, use: 'enc' })} }`,
        `{ issuer: f, jwks: ${jwksField({ ...ec.pub, alg: 'RS256' })} }`,
        `{ issuer: g, jwks: ${jwksField({ ...ec.pub, kid: 'k' }, { ...ed.pub, kid: 'k' })} }`,
        `{ issuer: h, jwks: ${jwksField({ ...ec.pub, x: `${String(ec.pub['x']).slice(0, 42)}${String(ec.pub['x']).endsWith('A') ? 'Q' : 'A'}` })} }`,
        `{ issuer: i, jwks: ${jwksField({ ...ec.pub, x: 'short' })} }`,
        `{ issuer: j, jwks: ${jwksField({ kty: 'RSA', n: 1, e: 'AQAB' })} }`,
      ),
      [
        'x.yaml:7: spec.jwtIssuers[0].jwks: keys[0]: an RSA key must have 2048 to 16384 bits',
        'x.yaml:8: spec.jwtIssuers[1].jwks: keys[0]: "crv" of an EC key must be P-256 or P-384',
        'x.yaml:9: spec.jwtIssuers[2].jwks: keys[0]: holds the private member "k"',
        'x.yaml:10: spec.jwtIssuers[3].jwks: keys[0]: "kty" must be EC, RSA or OKP',
        'x.yaml:11: spec.jwtIssuers[4].jwks: keys[0]: "use" must be "sig" (or absent)',
        'x.yaml:12: spec.jwtIssuers[5].jwks: keys[0]: "alg" must be ES256 for this key',
        'x.yaml:13: spec.jwtIssuers[6].jwks: keys[1]: repeats the key ID "k"',
        'x.yaml:14: spec.jwtIssuers[7].jwks: keys[0]: is not a valid EC public key',
        'x.yaml:15: spec.jwtIssuers[8].jwks: keys[0]: "x" is not 43 base64url characters',
        'x.yaml:16: spec.jwtIssuers[9].jwks: keys[0]: "n" must be a string',
      ],
    ],
    [
      'bad JWKS documents, sources, URIs, audiences and headers',
      settingsWith(
        `{ issuer: a, jwks: '{"keys": [' }`,
        `{ issuer: b, jwks: '{"keys": []}' }`,
        `{ issuer: c, jwks: { keys: [] } }`,
        `{ issuer: d }`,
        `{ issuer: e, jwks: '{"keys": []}', jwksUri: "https://e/" }`,
        `{ issuer: f, jwksUri: "ftp://f.example/jwks" }`,
        `{ issuer: g, jwksUri: "https://user:pw@g.example/jwks" }`,
        `{ issuer: h, jwksUri: "HTTPS://H.example/jwks" }`,
        `{ issuer: i, jwksUri: "/jwks" }`,
        `{ issuer: " j", jwksUri: "https://j.example/jwks", audiences: [] }`,
        `{ jwksUri: "https://k.example/jwks", audiences: [x, x], fromHeaders: [{ name: X-Jwt }] }`,
        `{ issuer: l, jwksUri: "https://l.example/jwks", fromHeaders: [], bogus: 1 }`,
        `{ issuer: m, jwksUri: "https://m.example/#x", fromHeaders: [{ name: a }, { name: a }, { name: b, prefix: "\\t" }] }`,
      ),
      [
        'x.yaml:7: spec.jwtIssuers[0].jwks: is not valid JSON: at offset',
        'x.yaml:8: spec.jwtIssuers[1].jwks: must hold at least one key',
        'x.yaml:9: spec.jwtIssuers[2].jwks: must be a JWKS as JSON text',
        'x.yaml:10: spec.jwtIssuers[3]: must have exactly one of jwks (a JWKS as JSON text) and jwksUri',
        'x.yaml:11: spec.jwtIssuers[4]: must have exactly one of jwks',
        'x.yaml:12: spec.jwtIssuers[5].jwksUri: must be an http or https URL',
        'x.yaml:13: spec.jwtIssuers[6].jwksUri: must not hold user info',
        'x.yaml:14: spec.jwtIssuers[7].jwksUri: must be written in its canonical form "https://h.example/jwks"',
        'x.yaml:15: spec.jwtIssuers[8].jwksUri: must be an absolute http or https URL',
        'x.yaml:16: spec.jwtIssuers[9].issuer: must be an exact `iss` value of printable characters',
        'x.yaml:16: spec.jwtIssuers[9].audiences: must list at least one audience',
        'x.yaml:17: spec.jwtIssuers[10].issuer: is required',
        'x.yaml:17: spec.jwtIssuers[10].audiences[1]: is listed twice',
        'x.yaml:17: spec.jwtIssuers[10].fromHeaders[0].name: must be a lower-case header name',
        'x.yaml:18: spec.jwtIssuers[11].fromHeaders: must list a header',
        'x.yaml:18: spec.jwtIssuers[11].bogus: unknown field',
        'x.yaml:19: spec.jwtIssuers[12].fromHeaders[2].prefix: must be at most 64 printable characters',
        'x.yaml:19: spec.jwtIssuers[12].fromHeaders[1].name: header "a" is listed twice',
        'x.yaml:19: spec.jwtIssuers[12].jwksUri: must not hold a fragment',
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

  it('reports an issuer configured twice across documents', () => {
    const { problems } = parse(
      `${settingsWith('{ issuer: a, jwksUri: "https://a.example/jwks" }')}---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: more-issuers }
spec:
  jwtIssuers:
    - { issuer: b, jwksUri: "https://b.example/jwks" }
    - { issuer: a, jwksUri: "https://other.example/jwks" }
`,
    );
    assert.deepEqual(problems, [
      'x.yaml:15: spec.jwtIssuers[1].issuer: issuer "a" is already configured by "p"',
    ]);
  });
});

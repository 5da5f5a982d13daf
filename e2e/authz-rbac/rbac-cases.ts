// The mesh configs and the request table of the RBAC agreement test.

/** The callers: each presents an X509-SVID with this SPIFFE ID. */
export const CLIENTS = {
  frontend: 'spiffe://example.org/frontend',
  alice: 'spiffe://example.org/ops/alice',
  bob: 'spiffe://example.org/ops/bob',
  guest: 'spiffe://example.org/guest',
  partner: 'spiffe://other.org/partner',
  evil: 'spiffe://other.org/evil',
} as const;

/** A caller's name. */
export type Client = keyof typeof CLIENTS;

/**
 * The inbound listeners: `backend` (on a port that is none of the Service's, so it stands for its
 * first port, 80), `backend-metrics` (on the Service's second port), `vault` (no ALLOW policy,
 * mesh default deny) and `plain` (another mesh: no `defaultAction`, so own trust domain only).
 */
export type ListenerName = 'backend' | 'backend-metrics' | 'vault' | 'plain';

const SERVICES = (metricsPort: number) => `apiVersion: parley.dev/v1
kind: Service
metadata: { name: backend }
spec:
  spiffeId: spiffe://example.org/backend
  ports: [{ name: http, port: 80 }, { name: metrics, port: ${metricsPort} }]
---
apiVersion: parley.dev/v1
kind: Service
metadata: { name: vault }
spec:
  spiffeId: spiffe://example.org/vault
  ports: [{ name: http, port: 80 }]
---
apiVersion: parley.dev/v1
kind: Service
metadata: { name: plain }
spec:
  spiffeId: spiffe://example.org/plain
  ports: [{ name: http, port: 80 }]
`;

/** The main mesh: deny by default, roles, ALLOW/DENY/AUDIT and dry-run policies. */
export function mainMesh(metricsPort: number): { path: string; text: string }[] {
  return [
    { path: 'services.yaml', text: SERVICES(metricsPort) },
    {
      path: 'policies.yaml',
      text: `apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: mesh }
spec:
  defaultAction: DENY
  roles:
    - name: catalogue-reader
      principals: [spiffe://example.org/frontend, spiffe://example.org/ops/*]
      permissions:
        - { methods: [GET, HEAD], paths: [/catalogue/*] }
    - name: metrics-scraper
      principals: [spiffe://example.org/ops/*]
      permissions:
        - { paths: [/metrics], ports: [${metricsPort}] }
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: backend-allow }
spec:
  selector: { services: [backend] }
  rules:
    - name: readers
      roles: [catalogue-reader, metrics-scraper]
    - name: frontend-api
      from: [{ principals: [spiffe://example.org/frontend] }]
      to:
        - methods: [GET, POST]
          paths: [/api/*, "/items/{*}/reviews/{**}", "*.png", /exact, "*3A"]
    - name: ops-bob
      from: [{ principals: [spiffe://example.org/ops/bob] }]
    - name: ops-admin
      from: [{ principals: ["*/ops/alice"] }]
      when:
        - { key: "request.headers[x-role]", values: [admin, "ops-*"] }
    - name: hosted
      from: [{ trustDomains: [example.org] }]
      to:
        - hosts: [backend, "api.example.com:8443", "*.internal"]
          paths: [/hosted/*]
    - name: local
      to: [{ paths: [/local/*] }]
      when:
        - { key: source.ip, values: [127.0.0.2/32] }
    - name: partners
      from: [{ trustDomains: [other.org], notPrincipals: [spiffe://other.org/evil] }]
      to: [{ paths: [/partner/*] }]
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: backend-deny }
spec:
  selector: { services: [backend] }
  action: DENY
  rules:
    - name: admin-paths
      to: [{ paths: [/admin/*], ignoreCase: true }]
    - name: api-internal
      to: [{ paths: [/api/internal/*] }]
    - name: guests
      when:
        - { key: "request.headers[x-role]", values: [guest] }
    - name: no-delete
      to: [{ methods: [DELETE] }]
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: backend-dry }
spec:
  selector: { services: [backend] }
  action: DENY
  dryRun: true
  rules:
    - name: beta
      to: [{ paths: [/api/beta/*] }]
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: backend-audit }
spec:
  selector: { services: [backend] }
  action: AUDIT
  rules:
    - name: writes
      to: [{ methods: [POST], paths: [/api/*] }]
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: vault-deny }
spec:
  selector: { services: [vault] }
  action: DENY
  rules:
    - to: [{ paths: [/secret/*] }]
`,
    },
  ];
}

/** The second mesh: Istio's default (own trust domain only), a DENY and a dry-run ALLOW. */
export function plainMesh(metricsPort: number): { path: string; text: string }[] {
  return [
    { path: 'services.yaml', text: SERVICES(metricsPort) },
    {
      path: 'policies.yaml',
      text: `apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: plain-deny }
spec:
  selector: { services: [plain] }
  action: DENY
  rules:
    - name: blocked
      to: [{ paths: [/blocked] }]
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: plain-dry-allow }
spec:
  selector: { services: [plain] }
  dryRun: true
  rules:
    - name: frontend-only
      from: [{ principals: [spiffe://example.org/frontend] }]
`,
    },
  ];
}

/** One request of the table and the decision both Envoy and the evaluator must reach. */
export interface Case {
  readonly listener: ListenerName;
  readonly client: Client;
  readonly method?: string;
  /** The request target exactly as sent. */
  readonly path: string;
  /** `Host` header(s) as sent (default `backend`); several send several `Host` lines. */
  readonly host?: string | readonly string[];
  /** Extra header lines, in order (a name twice sends a repeated header). */
  readonly headers?: readonly (readonly [string, string])[];
  readonly localAddress?: string;
  readonly expect: 'allow' | 'deny';
  /** The dry-run outcome the decision must report (checked against the shadow rules). */
  readonly dryRun?: 'allow' | 'deny';
  /**
   * Envoy rewrites this request before any filter (escapes `"`, turns `\` into `/`, takes the
   * path and authority of an absolute URI): the evaluator refuses the raw request, and on what
   * Envoy forwards it agrees with Envoy.
   */
  readonly rewritten?: true;
  /**
   * Envoy answers 400 before any filter (a fragment) where the evaluator, given the raw request,
   * would decide on what remains: such a request never reaches a policy.
   */
  readonly envoyRefuses?: true;
}

const bob = (path: string, extra: Partial<Case> = {}): Case => ({
  listener: 'backend',
  client: 'bob',
  path,
  expect: 'deny',
  ...extra,
});

/** The table: every row is decided by Envoy (RBAC only) and by `evaluateRequest`. */
export const CASES: readonly Case[] = [
  // ALLOW rules with methods and path patterns (prefix, template, suffix, exact).
  { listener: 'backend', client: 'frontend', path: '/api/items', expect: 'allow', dryRun: 'allow' },
  { listener: 'backend', client: 'frontend', method: 'POST', path: '/api/items', expect: 'allow' },
  { listener: 'backend', client: 'frontend', method: 'PUT', path: '/api/items', expect: 'deny' },
  { listener: 'backend', client: 'frontend', path: '/api', expect: 'allow' },
  { listener: 'backend', client: 'frontend', path: '/apix', expect: 'deny' },
  {
    listener: 'backend',
    client: 'frontend',
    path: '/api/items?q=1#',
    expect: 'deny',
    envoyRefuses: true,
  },
  { listener: 'backend', client: 'frontend', path: '/api/items?q=1', expect: 'allow' },
  { listener: 'backend', client: 'guest', path: '/api/items', expect: 'deny' },
  { listener: 'backend', client: 'frontend', path: '/items/42/reviews', expect: 'allow' },
  { listener: 'backend', client: 'frontend', path: '/items/42/reviews/a/b', expect: 'allow' },
  { listener: 'backend', client: 'frontend', path: '/items//reviews', expect: 'deny' },
  { listener: 'backend', client: 'frontend', path: '/items/42/other', expect: 'deny' },
  { listener: 'backend', client: 'frontend', path: '/img/logo.png', expect: 'allow' },
  { listener: 'backend', client: 'frontend', path: '/img/logo.png/', expect: 'allow' },
  { listener: 'backend', client: 'frontend', path: '/img/logo.PNG', expect: 'deny' },
  { listener: 'backend', client: 'frontend', path: '/exact', expect: 'allow' },
  { listener: 'backend', client: 'frontend', path: '/exact/', expect: 'allow' },
  { listener: 'backend', client: 'frontend', path: '/exact/x', expect: 'deny' },
  // A suffix ending in a percent-escape Envoy leaves lower-case (the evaluator upper-cases it).
  { listener: 'backend', client: 'frontend', path: '/x%3a', expect: 'allow' },
  { listener: 'backend', client: 'frontend', path: '/x3A', expect: 'allow' },
  { listener: 'backend', client: 'frontend', path: '/x3a', expect: 'deny' },
  { listener: 'backend', client: 'frontend', path: '/x%253a', expect: 'deny' },
  // DENY beats ALLOW; case rules; dry-run; AUDIT.
  { listener: 'backend', client: 'frontend', path: '/api/internal/x', expect: 'deny' },
  { listener: 'backend', client: 'frontend', path: '/api/INTERNAL/x', expect: 'allow' },
  {
    listener: 'backend',
    client: 'frontend',
    path: '/api/items',
    headers: [['x-role', 'guest']],
    expect: 'deny',
  },
  { listener: 'backend', client: 'frontend', path: '/api/beta/x', expect: 'allow', dryRun: 'deny' },
  {
    listener: 'backend',
    client: 'frontend',
    path: '/api/internal',
    expect: 'deny',
    dryRun: 'deny',
  },
  { listener: 'backend', client: 'guest', path: '/api/beta/x', expect: 'deny', dryRun: 'deny' },
  // Bypass attempts on DENY /admin/* (ignoreCase) for a caller allowed everything else.
  bob('/anything', { expect: 'allow' }),
  bob('/adminx', { expect: 'allow' }),
  bob('/admin'),
  bob('//admin'),
  bob('/admin/'),
  bob('%2Fadmin'),
  bob('/%2fadmin'),
  bob('/%2Fadmin'),
  bob('/ADMIN'),
  bob('/Admin/x'),
  bob('/admin;x'),
  bob('/x;y', {}),
  bob('/admin?x'),
  bob('/admin#x'),
  bob('\\admin'),
  bob('/\\admin'),
  bob('/%61dmin'),
  bob('/%41DMIN'),
  bob('/a/../admin'),
  bob('/./admin'),
  bob('/x/%2e%2e/admin'),
  bob('/x/.%2E/admin/y'),
  bob('/admin%2f'),
  bob('/admin%5c'),
  bob('/admin%00'),
  bob('/x%zz'),
  bob('/x%4'),
  bob('/x[y]'),
  bob('/x%5By%5D', { expect: 'allow' }),
  bob('/x%25zz', { expect: 'allow' }),
  bob(`/${'a'.repeat(8191)}`, { expect: 'allow' }),
  bob(`/${'a'.repeat(8192)}`),
  bob('http://backend/admin'),
  bob('http://backend/x', { expect: 'allow', rewritten: true }),
  bob('/x"y', { expect: 'allow', rewritten: true }),
  bob('/x\\y', { expect: 'allow', rewritten: true }),
  bob('/api/INTERNAL', { expect: 'allow' }),
  bob('/api/internal'),
  bob('/x', { method: 'DELETE' }),
  bob('/x', { method: 'delete' }),
  bob('/x', { method: 'Delete' }),
  bob('/x', { headers: [['x-role', 'guest']] }),
  bob('/x', { headers: [['X-Role', 'guest']] }),
  bob('/x', { headers: [['x-role', 'admin, guest']] }),
  bob('/x', { headers: [['x-role', 'admin,guest ']] }),
  bob('/x', {
    headers: [
      ['x-role', 'admin'],
      ['x-role', 'guest'],
    ],
  }),
  bob('/x', { headers: [['x-role', 'guests']], expect: 'allow' }),
  bob('/x', { headers: [['x-role', 'guest-admin, admin']], expect: 'allow' }),
  bob('/x', { headers: [['x-role', '\tguest\t,x']] }),
  // Every value of a repeated header must match an ALLOW rule's header condition.
  {
    listener: 'backend',
    client: 'alice',
    path: '/x',
    headers: [['x-role', 'admin']],
    expect: 'allow',
  },
  {
    listener: 'backend',
    client: 'alice',
    path: '/x',
    headers: [['x-role', 'ops-team']],
    expect: 'allow',
  },
  {
    listener: 'backend',
    client: 'alice',
    path: '/x',
    headers: [['x-role', 'admin, admin']],
    expect: 'deny',
  },
  {
    listener: 'backend',
    client: 'alice',
    path: '/x',
    headers: [
      ['x-role', 'admin'],
      ['x-role', 'ops-x'],
    ],
    expect: 'allow',
  },
  {
    listener: 'backend',
    client: 'alice',
    path: '/x',
    headers: [
      ['x-role', 'admin'],
      ['x-role', 'user'],
    ],
    expect: 'deny',
  },
  {
    listener: 'backend',
    client: 'alice',
    path: '/x',
    headers: [['x-role', 'Admin']],
    expect: 'deny',
  },
  { listener: 'backend', client: 'alice', path: '/x', headers: [['x-role', '']], expect: 'deny' },
  { listener: 'backend', client: 'alice', path: '/x', expect: 'deny' },
  // Roles: one binds callers to operations, another to a port.
  { listener: 'backend', client: 'alice', path: '/catalogue/socks', expect: 'allow' },
  {
    listener: 'backend',
    client: 'alice',
    method: 'HEAD',
    path: '/catalogue/socks',
    expect: 'allow',
  },
  {
    listener: 'backend',
    client: 'alice',
    method: 'POST',
    path: '/catalogue/socks',
    expect: 'deny',
  },
  { listener: 'backend', client: 'frontend', path: '/catalogue', expect: 'allow' },
  { listener: 'backend', client: 'guest', path: '/catalogue/socks', expect: 'deny' },
  { listener: 'backend', client: 'alice', path: '/metrics', expect: 'deny' },
  { listener: 'backend-metrics', client: 'alice', path: '/metrics', expect: 'allow' },
  { listener: 'backend-metrics', client: 'frontend', path: '/metrics', expect: 'deny' },
  // Hosts: case, trailing dot, ports (a pattern without one matches any), wildcards.
  ...(
    [
      ['backend', 'allow'],
      ['BACKEND', 'allow'],
      ['backend.', 'allow'],
      ['backend:80', 'allow'],
      ['backend:8080', 'allow'],
      ['backend.x', 'deny'],
      ['api.example.com:8443', 'allow'],
      ['API.Example.COM:08443', 'allow'],
      ['api.example.com', 'deny'],
      ['api.example.com:443', 'deny'],
      ['db.internal', 'allow'],
      ['db.internal.:9000', 'allow'],
      ['internal', 'deny'],
      ['backend:0', 'deny'],
      ['backend:99999', 'deny'],
      ['backend:', 'deny'],
      ['-backend', 'deny'],
      ['user@backend', 'deny'],
      ['backend..', 'deny'],
      [`${'a'.repeat(250)}.internal`, 'deny'],
      [`${'a'.repeat(244)}.internal.:9000`, 'allow'],
      ['[::1]:8443', 'deny'],
    ] as const
  ).map(([host, expect]): Case => ({
    listener: 'backend',
    client: 'guest',
    path: '/hosted/x',
    host,
    expect,
  })),
  {
    listener: 'backend',
    client: 'guest',
    path: '/hosted/x',
    host: ['backend', 'db.internal'],
    expect: 'deny',
  },
  { listener: 'backend', client: 'partner', path: '/hosted/x', expect: 'deny' },
  { listener: 'backend', client: 'guest', path: 'http://evil/hosted/x', expect: 'deny' },
  {
    listener: 'backend',
    client: 'guest',
    path: 'http://backend/hosted/x',
    host: 'evil',
    expect: 'allow',
    rewritten: true,
  },
  // Source address; trust domains and notPrincipals.
  {
    listener: 'backend',
    client: 'guest',
    path: '/local/x',
    localAddress: '127.0.0.2',
    expect: 'allow',
  },
  { listener: 'backend', client: 'guest', path: '/local/x', expect: 'deny' },
  { listener: 'backend', client: 'partner', path: '/partner/x', expect: 'allow' },
  { listener: 'backend', client: 'evil', path: '/partner/x', expect: 'deny' },
  { listener: 'backend', client: 'partner', path: '/api/x', expect: 'deny' },
  // No ALLOW policy: the mesh default denies everything.
  { listener: 'vault', client: 'frontend', path: '/anything', expect: 'deny' },
  { listener: 'vault', client: 'bob', path: '/secret/x', expect: 'deny' },
  // Istio's default: callers of the workload's own trust domain; a dry-run ALLOW beside it.
  { listener: 'plain', client: 'frontend', path: '/x', expect: 'allow', dryRun: 'allow' },
  { listener: 'plain', client: 'guest', path: '/x', expect: 'allow', dryRun: 'deny' },
  { listener: 'plain', client: 'partner', path: '/x', expect: 'deny', dryRun: 'deny' },
  { listener: 'plain', client: 'frontend', path: '/blocked/', expect: 'deny', dryRun: 'deny' },
  { listener: 'plain', client: 'frontend', path: '/blocked/x', expect: 'allow', dryRun: 'allow' },
];

// The data-path benchmark's policy and requests: mesh config YAML for the workload behind the
// measured server sidecar (a DENY policy, 20 ALLOW rules with principals, methods and paths,
// `defaultAction: DENY`), the allowed requests the load cycles through, and the denied ones the
// sanity check sends. `external` marks the DENY policy `external: true`, which sends every decision
// of the workload to ext_authz; otherwise Envoy's RBAC filter can decide all of it.

/** The trust domain of every identity. */
export const TRUST_DOMAIN = 'example.org';

/** The workload the server sidecar fronts (the destination of every request). */
export const SERVER = {
  service: 'server',
  spiffeId: `spiffe://${TRUST_DOMAIN}/server`,
  port: 8080,
};

/** The caller: the client sidecar's identity. */
export const CLIENT = { service: 'client', spiffeId: `spiffe://${TRUST_DOMAIN}/client` };

/** The Parley server's identity, as its authz listener presents it. */
export const PARLEY_SERVER_ID = `spiffe://${TRUST_DOMAIN}/parley/server`;

/** A request the sanity check sends, and what the enforcing sidecars must answer. */
export interface ProbeRequest {
  readonly method: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** The status with policies enforced (the baseline, without them, always answers 200). */
  readonly status: 200 | 403;
  readonly why: string;
}

const ALLOW_RULES = 20;

/** The mesh config files (path and YAML text); `external` marks the DENY policy external. */
export function dataplanePolicyYaml(external: boolean): { path: string; text: string }[] {
  const doc = (name: string, spec: string[]) =>
    ['apiVersion: parley.dev/v1', 'kind: AuthorizationPolicy', `metadata: { name: ${name} }`]
      .concat(spec)
      .join('\n') + '\n';
  const service = (name: string, spiffeId: string, port: number) =>
    [
      'apiVersion: parley.dev/v1',
      'kind: Service',
      `metadata: { name: ${name} }`,
      'spec:',
      `  spiffeId: ${spiffeId}`,
      `  ports: [{ name: http, port: ${port} }]`,
      '',
    ].join('\n');
  const allow: string[] = [];
  // 19 rules for other callers, then the client's: the load's requests match the last rule.
  for (let i = 0; i < ALLOW_RULES - 1; i++) {
    const methods = i % 3 === 0 ? 'GET' : i % 3 === 1 ? 'GET, POST' : 'GET, POST, PUT';
    allow.push(
      `    - name: svc-${i}`,
      `      from: [{ principals: [spiffe://${TRUST_DOMAIN}/team-${i % 4}/svc-${i}] }]`,
      `      to: [{ methods: [${methods}], paths: [/api/svc-${i}/*, "/v1/{*}/svc-${i}/{**}"] }]`,
    );
  }
  allow.push(
    `    - name: client-items`,
    `      from: [{ principals: [${CLIENT.spiffeId}] }]`,
    `      to: [{ methods: [GET, HEAD], paths: [/api/items/*, "/api/items/{*}/reviews"] }]`,
  );
  return [
    { path: 'services/server.yaml', text: service(SERVER.service, SERVER.spiffeId, SERVER.port) },
    { path: 'services/client.yaml', text: service(CLIENT.service, CLIENT.spiffeId, 8080) },
    { path: 'authz/mesh.yaml', text: doc('mesh', ['spec: { defaultAction: DENY }']) },
    {
      path: 'authz/server-deny.yaml',
      text: doc('server-deny', [
        'spec:',
        `  selector: { services: [${SERVER.service}] }`,
        '  action: DENY',
        ...(external ? ['  external: true'] : []),
        '  rules:',
        '    - name: admin-paths',
        '      to: [{ paths: [/admin/*], ignoreCase: true }]',
        '    - name: quarantined-callers',
        `      from: [{ principals: ["spiffe://${TRUST_DOMAIN}/quarantine/*"] }]`,
        '    - name: no-delete',
        '      to: [{ methods: [DELETE] }]',
        '    - name: debug-header',
        '      when: [{ key: "request.headers[x-debug]", values: ["*"] }]',
      ]),
    },
    {
      path: 'authz/server-allow.yaml',
      text: doc('server-allow', [
        'spec:',
        `  selector: { services: [${SERVER.service}] }`,
        '  action: ALLOW',
        '  rules:',
        ...allow,
      ]),
    },
  ];
}

/** The path of the `i`-th request of the load: every one is allowed for the client. */
export function allowedPath(i: number): string {
  const item = i % 100;
  return i % 2 === 0 ? `/api/items/${item}` : `/api/items/${item}/reviews`;
}

/** What the sanity check sends through every path before measuring. */
export const PROBES: readonly ProbeRequest[] = [
  { method: 'GET', path: '/api/items/7', status: 200, why: 'allowed by client-items' },
  { method: 'GET', path: '/api/items/7/reviews', status: 200, why: 'allowed by client-items' },
  { method: 'GET', path: '/admin/users', status: 403, why: 'DENY admin-paths' },
  { method: 'GET', path: '/ADMIN/users', status: 403, why: 'DENY admin-paths (ignoreCase)' },
  {
    method: 'GET',
    path: '/api/items/7',
    headers: { 'x-debug': '1' },
    status: 403,
    why: 'DENY debug-header',
  },
  { method: 'POST', path: '/api/items/7', status: 403, why: 'method not granted' },
  { method: 'GET', path: '/api/svc-3/x', status: 403, why: 'another caller’s rule' },
  { method: 'GET', path: '/', status: 403, why: 'no ALLOW rule (default deny)' },
];

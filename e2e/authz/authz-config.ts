// The mesh config of the authz suite: two callers (`web`, `ops`) and two protected services —
// `backend`, whose policies Envoy's RBAC filter enforces, and `ledger`, whose ABAC, hybrid and
// end-user-claim policies only Parley's ext_authz service decides (attributes from the registry).
import { generateKeyPairSync } from 'node:crypto';

/** Loopback ports of one instance. */
export interface Ports {
  readonly inbound: number;
  readonly outbound: number;
  readonly app: number;
}

/** The services of the suite: name → its `team` attribute. */
export const SERVICES = {
  web: 'payments',
  ops: 'ops',
  backend: 'web',
  ledger: 'payments',
} as const;

/** The suite's service names. */
export type ServiceName = keyof typeof SERVICES;

/** The SPIFFE ID of a service (or of a caller the mesh does not know). */
export const idOf = (name: string): string => `spiffe://example.org/${name}`;

/** The end-user token issuer the mesh trusts, with its signing key (ES256). */
export const ISSUER = 'https://users.example.org';
export const userKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function service(name: ServiceName, ports: Ports, outbound: readonly string[]): string {
  return `apiVersion: parley.dev/v1
kind: Service
metadata: { name: ${name} }
spec:
  spiffeId: ${idOf(name)}
  ports: [{ name: http, port: 80, protocol: http }]
  attributes: { environment: test, team: ${SERVICES[name]}, sensitivity: internal }
  sidecar:
    outbound: [${outbound.join(', ')}]
  endpoints:
    - name: ${name}-0
      inbound: 127.0.0.1:${ports.inbound}
      app: 127.0.0.1:${ports.app}
      outbound: 127.0.0.1:${ports.outbound}
`;
}

const jwk = JSON.stringify({
  keys: [
    { ...userKey.publicKey.export({ format: 'jwk' }), kid: 'user-1', alg: 'ES256', use: 'sig' },
  ],
});

const POLICIES = `apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: mesh }
spec:
  defaultAction: DENY
  roles:
    - name: reader
      principals: [${idOf('ops')}]
      permissions: [{ methods: [GET], paths: [/reports/*] }]
  jwtIssuers:
    - issuer: ${ISSUER}
      audiences: [ledger]
      jwks: '${jwk}'
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: backend-allow }
spec:
  selector: { services: [backend] }
  rules:
    - name: web-api
      from: [{ principals: [${idOf('web')}] }]
      to: [{ methods: [GET, POST], paths: [/api/*, "/items/{*}/reviews"] }]
    - name: readers
      roles: [reader]
    - name: admins-by-header
      from: [{ principals: [${idOf('web')}] }]
      to: [{ paths: [/console] }]
      when: [{ key: "request.headers[x-role]", values: [admin] }]
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: backend-deny }
spec:
  selector: { services: [backend] }
  action: DENY
  rules:
    - name: no-admin
      to: [{ paths: [/admin/*], ignoreCase: true }]
    - name: no-secret
      to: [{ paths: [/api/secret] }]
    - name: no-guests
      when: [{ key: "request.headers[x-role]", values: [guest] }]
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: backend-lockdown }
spec:
  selector: { services: [backend] }
  action: DENY
  dryRun: true
  rules:
    - name: legacy
      to: [{ paths: [/api/legacy/*] }]
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: ledger-allow }
spec:
  selector: { services: [ledger] }
  rules:
    - name: same-team
      when: [{ expression: "source.attributes.team == destination.attributes.team" }]
    - name: ops-readers
      roles: [reader]
      when: [{ key: source.attributes.team, values: [ops] }]
    - name: alice
      to: [{ paths: [/user/*] }]
      when: [{ key: "request.auth.claims[sub]", values: [alice] }]
`;

/** Every file of the suite's config repository. */
export function authzFiles(ports: Readonly<Record<ServiceName, Ports>>): Record<string, string> {
  return {
    'services/web.yaml': service('web', ports.web, ['backend', 'ledger']),
    'services/ops.yaml': service('ops', ports.ops, ['backend', 'ledger']),
    'services/backend.yaml': service('backend', ports.backend, []),
    'services/ledger.yaml': service('ledger', ports.ledger, []),
    'policies/authz.yaml': POLICIES,
  };
}

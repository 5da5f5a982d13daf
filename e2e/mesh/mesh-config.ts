// The mesh config of the e2e suite: a `client` whose sidecar the test calls through, `backend`
// (two instances) with a canary `backend-v2`, and `flaky`, whose app fails on demand.

/** Loopback ports of one instance: its sidecar's inbound and outbound listeners and its app. */
export interface InstancePorts {
  readonly inbound: number;
  readonly outbound: number;
  readonly app: number;
}

/** Every instance of the suite, by instance name. */
export type MeshPorts = Readonly<Record<string, InstancePorts>>;

/** The instances of each service. */
export const INSTANCES = {
  client: ['client-0'],
  backend: ['backend-0', 'backend-1'],
  'backend-v2': ['backend-v2-0'],
  flaky: ['flaky-0'],
} as const;

/** The extra services a test adds (e.g. one whose endpoint presents the wrong identity). */
export interface ExtraService {
  readonly name: string;
  readonly spiffeId: string;
  readonly inbound: number;
}

function service(name: string, ports: MeshPorts, names: readonly string[]): string {
  const endpoints = names
    .map((n) => {
      const p = ports[n];
      if (p === undefined) throw new Error(`no ports for ${n}`);
      return [
        `    - name: ${n}`,
        `      inbound: 127.0.0.1:${p.inbound}`,
        `      app: 127.0.0.1:${p.app}`,
        `      outbound: 127.0.0.1:${p.outbound}`,
      ].join('\n');
    })
    .join('\n');
  return `apiVersion: parley.dev/v1
kind: Service
metadata: { name: ${name} }
spec:
  spiffeId: spiffe://example.org/${name}
  ports: [{ name: http, port: 80, protocol: http }]
  endpoints:
${endpoints}
`;
}

/** The backend Route; `canaryWeight` is the share of backend-v2 in the default rule. */
export function backendRoute(canaryWeight: number, extraRule = ''): string {
  return `apiVersion: parley.dev/v1
kind: Route
metadata: { name: backend }
spec:
  host: backend
  rules:
    - name: v2-by-header
      match: { headers: [{ name: x-version, exact: v2 }] }
      destinations: [{ service: backend-v2 }]
${extraRule}    - name: split
      destinations:
        - { service: backend, weight: ${100 - canaryWeight} }
        - { service: backend-v2, weight: ${canaryWeight} }
`;
}

const FLAKY_ROUTE = `apiVersion: parley.dev/v1
kind: Route
metadata: { name: flaky }
spec:
  host: flaky
  # Callers' sidecars send a JWT-SVID for flaky's audience in place of the app's Authorization.
  egress: { token: { audience: spiffe://example.org/flaky, source: jwt-svid } }
  rules:
    - name: slow
      match: { path: { prefix: /slow } }
      destinations: [{ service: flaky }]
      timeout: 300ms
    - name: abort
      match: { path: { prefix: /abort } }
      destinations: [{ service: flaky }]
      fault: { abort: { httpStatus: 418, percentage: 100 } }
    - name: hold
      match: { path: { prefix: /hold } }
      destinations: [{ service: flaky }]
    - name: retried
      destinations: [{ service: flaky }]
      retries: { attempts: 9, retryOn: [5xx] }
`;

const POLICIES = `apiVersion: parley.dev/v1
kind: TrafficPolicy
metadata: { name: flaky }
spec:
  host: flaky
  connectionPool: { maxRequests: 2, maxPendingRequests: 1, maxRetries: 100 }
---
apiVersion: parley.dev/v1
kind: TrafficPolicy
metadata: { name: backend }
spec:
  host: backend
  outlierDetection:
    consecutive5xx: 3
    interval: 500ms
    baseEjectionTime: 60s
    maxEjectionPercent: 50
`;

/** The repo's files for the given ports. */
export function meshFiles(
  ports: MeshPorts,
  options: { backendRoute?: string; extra?: readonly ExtraService[] } = {},
): Record<string, string> {
  const files: Record<string, string> = {
    'routes/backend.yaml': options.backendRoute ?? backendRoute(10),
    'routes/flaky.yaml': FLAKY_ROUTE,
    'policies.yaml': POLICIES,
  };
  for (const [name, instances] of Object.entries(INSTANCES)) {
    files[`services/${name}.yaml`] = service(name, ports, instances);
  }
  for (const e of options.extra ?? []) {
    files[`services/${e.name}.yaml`] = `apiVersion: parley.dev/v1
kind: Service
metadata: { name: ${e.name} }
spec:
  spiffeId: ${e.spiffeId}
  ports: [{ name: http, port: 80, protocol: http }]
  sidecar: { outbound: [] }
  endpoints:
    - { name: ${e.name}-0, inbound: 127.0.0.1:${e.inbound}, app: 127.0.0.1:9 }
`;
  }
  return files;
}

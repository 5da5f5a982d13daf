import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type ProtoObject, XDS_TYPE_URL, decodeAny } from '@parley/api';
import { findPeer, makeTempDir } from '@parley/testing';
import type { Endpoint, MeshConfig } from '../model/mesh-config.js';
import { parseMeshConfig } from '../model/parse-mesh-config.js';
import { MESH_NAMES, type MeshSnapshot, type ProxyResources } from '../snapshot/mesh-snapshot.js';
import { renderProxy } from '../snapshot/render-proxy.js';
import { type HttpFilterPiece, HTTP_FILTER_ORDER, egressFilterName } from './filters.js';
import { compileMesh, withEndpoints } from './compile-mesh.js';

const run = promisify(execFile);

/** A mesh that uses every feature the compiler emits. */
const MESH = `
apiVersion: parley.dev/v1
kind: Service
metadata: { name: frontend }
spec:
  spiffeId: spiffe://example.org/frontend
  ports: [{ name: http, port: 8080 }]
  endpoints:
    - { name: frontend-0, inbound: 127.0.0.1:15101, app: 127.0.0.1:8081 }
---
apiVersion: parley.dev/v1
kind: Service
metadata: { name: reviews }
spec:
  spiffeId: spiffe://example.org/reviews
  ports: [{ name: http, port: 9080 }]
  sidecar: { outbound: [] }
  endpoints:
    - { name: reviews-0, inbound: 127.0.0.1:15201, app: 127.0.0.1:8201, locality: { region: eu, zone: a } }
    - { name: reviews-1, inbound: 127.0.0.1:15202, app: 127.0.0.1:8202, outbound: 127.0.0.1:15012, locality: { region: us, zone: b }, weight: 3 }
---
apiVersion: parley.dev/v1
kind: Service
metadata: { name: reviews-v2 }
spec:
  spiffeId: spiffe://partner.example/reviews-v2
  ports: [{ name: grpc, port: 9090, protocol: grpc }]
  endpoints:
    - { name: reviews-v2-0, inbound: 127.0.0.1:15301, app: 127.0.0.1:8301 }
---
apiVersion: parley.dev/v1
kind: Route
metadata: { name: reviews }
spec:
  host: reviews
  egress: { token: { audience: spiffe://example.org/reviews } }
  rules:
    - name: by-header
      match:
        path: { regex: "^/api/v[0-9]+/.*$" }
        headers:
          - { name: x-version, exact: v2 }
          - { name: x-debug, present: true }
          - { name: x-user, prefix: test- }
        method: GET
      destinations: [{ service: reviews-v2 }]
      fault:
        delay: { fixedDelay: 1500ms, percentage: 10 }
        abort: { httpStatus: 503, percentage: 0.5 }
      rewrite: { host: reviews-v2 }
    - name: canary
      match: { path: { prefix: /api } }
      destinations:
        - { service: reviews, weight: 90 }
        - { service: reviews-v2, weight: 10 }
      timeout: 3s
      retries: { attempts: 3, retryOn: [5xx, connect-failure], perTryTimeout: 1s }
      mirror: { service: reviews-v2, percentage: 25 }
      requestHeaders:
        add: [{ name: x-canary, value: "yes" }, { name: x-trail, value: a, append: true }]
        remove: [x-internal]
      responseHeaders:
        add: [{ name: x-served-by, value: mesh }]
        remove: [server]
      rewrite: { prefix: /v1 }
    - name: rest
      destinations: [{ service: reviews }]
---
apiVersion: parley.dev/v1
kind: TrafficPolicy
metadata: { name: reviews }
spec:
  host: reviews
  loadBalancer:
    policy: ringHash
    ringHash: { header: x-user, minimumRingSize: 2048 }
    localityWeighted: true
    failover: [{ region: eu }, { region: us, zone: b }]
  connectionPool: { maxConnections: 10, maxPendingRequests: 5, maxRequests: 20, maxRetries: 2 }
  outlierDetection: { consecutive5xx: 3, interval: 5s, baseEjectionTime: 15s, maxEjectionPercent: 40 }
`;

function config(text = MESH): MeshConfig {
  const result = parseMeshConfig([{ path: 'mesh.yaml', text }]);
  if (!result.ok)
    assert.fail(result.problems.map((p) => `${p.line}: ${p.path}: ${p.message}`).join('\n'));
  return result.config;
}

function resources(snapshot: MeshSnapshot, id: string, instance?: string): ProxyResources {
  const r = snapshot.resourcesFor({ id, metadata: instance === undefined ? {} : { instance } });
  if (!r.ok) assert.fail(r.reason);
  return r.resources;
}

function decoded(res: ProxyResources, typeUrl: string, name: string): unknown {
  const r = res.get(typeUrl as never)?.get(name);
  assert.ok(r, `no ${typeUrl} ${name}`);
  return decodeAny(r.resource);
}

/** The value at a path of keys and indexes in decoded data (undefined where it ends). */
function at(value: unknown, ...path: (string | number)[]): unknown {
  let v = value;
  for (const k of path)
    v =
      v === null || typeof v !== 'object' ? undefined : (v as Record<string | number, unknown>)[k];
  return v;
}

/** The list at a path (empty when absent). */
function list(value: unknown, ...path: (string | number)[]): unknown[] {
  const v = at(value, ...path);
  return Array.isArray(v) ? v : [];
}

const FRONTEND = 'spiffe://example.org/frontend';
const REVIEWS = 'spiffe://example.org/reviews';
const TLS = ['filter_chains', 0, 'transport_socket', 'typed_config'];
const HCM = ['filter_chains', 0, 'filters', 0, 'typed_config'];
const UPSTREAM = [
  'transport_socket',
  'typed_config',
  'common_tls_context',
  'combined_validation_context',
];

describe('compileMesh', () => {
  const snapshot = compileMesh(config(), { commit: 'c0ffee', trustDomain: 'example.org' });
  const front = resources(snapshot, FRONTEND);

  it('gives an inbound listener that requires client certificates from SDS', () => {
    const l = decoded(front, XDS_TYPE_URL.listener, 'inbound');
    assert.deepEqual(at(l, 'address'), {
      socket_address: { address: '127.0.0.1', port_value: 15101 },
    });
    assert.equal(
      at(l, ...TLS, '@type'),
      'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
    );
    assert.deepEqual(at(l, ...TLS, 'require_client_certificate'), { value: true });
    const ctx = at(l, ...TLS, 'common_tls_context');
    assert.equal(
      at(ctx, 'tls_certificate_sds_secret_configs', 0, 'name'),
      MESH_NAMES.ownCertificate,
    );
    assert.equal(
      at(ctx, 'validation_context_sds_secret_config', 'name'),
      MESH_NAMES.ownTrustDomain,
    );
    const api = at(ctx, 'validation_context_sds_secret_config', 'sds_config', 'api_config_source');
    assert.deepEqual(at(api, 'grpc_services'), [
      { envoy_grpc: { cluster_name: MESH_NAMES.sdsCluster } },
    ]);
    assert.equal(at(api, 'transport_api_version'), 'V3');
    assert.deepEqual(at(l, ...HCM, 'generate_request_id'), { value: true });
    assert.equal(
      at(l, ...HCM, 'route_config', 'virtual_hosts', 0, 'routes', 0, 'route', 'cluster'),
      'inbound_app',
    );
    assert.equal(at(l, ...HCM, 'access_log', 0, 'name'), 'envoy.access_loggers.stdout');
    const app = decoded(front, XDS_TYPE_URL.cluster, 'inbound_app');
    assert.equal(
      at(
        app,
        'load_assignment',
        'endpoints',
        0,
        'lb_endpoints',
        0,
        'endpoint',
        'address',
        'socket_address',
        'port_value',
      ),
      8081,
    );
  });

  it('gives an outbound listener on loopback routed by RDS over ADS', () => {
    const l = decoded(front, XDS_TYPE_URL.listener, 'outbound');
    assert.deepEqual(at(l, 'address'), {
      socket_address: { address: '127.0.0.1', port_value: 15001 },
    });
    assert.deepEqual(at(l, ...HCM, 'rds'), {
      route_config_name: 'outbound',
      config_source: { ads: {}, resource_api_version: 'V3' },
    });
    assert.deepEqual(
      list(l, ...HCM, 'http_filters').map((f) => at(f, 'name')),
      [
        'envoy.filters.http.fault',
        egressFilterName(`parley:jwt-svid:${REVIEWS}`),
        'envoy.filters.http.router',
      ],
    );
  });

  it('injects a JWT-SVID for the audience of routes with token egress, and only on those', () => {
    const l = decoded(front, XDS_TYPE_URL.listener, 'outbound');
    const injector = list(l, ...HCM, 'http_filters').find(
      (f) => at(f, 'name') === egressFilterName(`parley:jwt-svid:${REVIEWS}`),
    );
    assert.equal(at(injector, 'typed_config', 'overwrite'), true);
    assert.equal(at(injector, 'typed_config', 'allow_request_without_credential'), false);
    const generic = at(injector, 'typed_config', 'credential', 'typed_config');
    assert.equal(at(generic, 'header'), 'Authorization');
    assert.equal(at(generic, 'credential', 'name'), `parley:jwt-svid:${REVIEWS}`);
    const routes = decoded(front, XDS_TYPE_URL.route, 'outbound');
    const hosts = list(routes, 'virtual_hosts');
    const perFilter = (name: string) =>
      at(
        hosts.find((h) => at(h, 'name') === name),
        'typed_per_filter_config',
        egressFilterName(`parley:jwt-svid:${REVIEWS}`),
      );
    assert.equal(perFilter('reviews'), undefined, 'on for reviews');
    assert.equal(at(perFilter('reviews-v2'), 'disabled'), true, 'off for every other host');
  });

  it('routes requests naming no service to the default destination (an edge proxy)', () => {
    const edge = `${MESH}---
apiVersion: parley.dev/v1
kind: Service
metadata: { name: edge }
spec:
  spiffeId: spiffe://example.org/edge
  ports: [{ name: http, port: 80 }]
  sidecar: { outboundPort: 8080, outbound: [frontend], defaultDestination: frontend }
`;
    const res = resources(compileMesh(config(edge), { commit: 'c1' }), 'spiffe://example.org/edge');
    const listeners = [...(res.get(XDS_TYPE_URL.listener)?.keys() ?? [])];
    assert.deepEqual(listeners, ['outbound']);
    const [routeName] = [...(res.get(XDS_TYPE_URL.route)?.keys() ?? [])];
    const hosts = list(decoded(res, XDS_TYPE_URL.route, routeName ?? ''), 'virtual_hosts');
    assert.deepEqual(
      hosts.map((h) => at(h, 'domains')),
      [['frontend', 'frontend:8080'], ['*']],
    );
    assert.equal(at(hosts[1], 'routes', 0, 'route', 'cluster'), 'frontend');
    const bad = parseMeshConfig([
      {
        path: 'e.yaml',
        text: edge.replace('defaultDestination: frontend', 'defaultDestination: reviews'),
      },
    ]);
    assert.ok(!bad.ok && bad.problems.some((p) => p.path === 'spec.sidecar.defaultDestination'));
  });

  it('matches exactly the destination SPIFFE ID in every cluster', () => {
    const c = decoded(front, XDS_TYPE_URL.cluster, 'reviews');
    assert.equal(at(c, 'transport_socket', 'typed_config', 'sni'), 'reviews');
    assert.deepEqual(
      at(c, ...UPSTREAM, 'default_validation_context', 'match_typed_subject_alt_names'),
      [{ san_type: 'URI', matcher: { exact: REVIEWS } }],
    );
    assert.equal(at(c, ...UPSTREAM, 'validation_context_sds_secret_config', 'name'), 'ROOTCA');
    assert.deepEqual(at(c, 'eds_cluster_config'), {
      eds_config: { ads: {}, resource_api_version: 'V3' },
    });
    // Another trust domain's service is validated with that domain's bundle, over HTTP/2 (gRPC).
    const v2 = decoded(front, XDS_TYPE_URL.cluster, 'reviews-v2');
    assert.equal(
      at(v2, ...UPSTREAM, 'validation_context_sds_secret_config', 'name'),
      'spiffe://partner.example',
    );
    assert.ok(at(v2, 'typed_extension_protocol_options'));
  });

  it('carries load balancing, circuit breakers and outlier detection', () => {
    const c = decoded(front, XDS_TYPE_URL.cluster, 'reviews');
    assert.equal(at(c, 'lb_policy'), 'RING_HASH');
    assert.deepEqual(at(c, 'ring_hash_lb_config'), { minimum_ring_size: { value: '2048' } });
    assert.deepEqual(at(c, 'common_lb_config'), { locality_weighted_lb_config: {} });
    assert.deepEqual(at(c, 'circuit_breakers', 'thresholds', 0), {
      priority: 'DEFAULT',
      max_connections: { value: 10 },
      max_pending_requests: { value: 5 },
      max_requests: { value: 20 },
      max_retries: { value: 2 },
    });
    assert.deepEqual(at(c, 'outlier_detection'), {
      consecutive_5xx: { value: 3 },
      interval: { seconds: '5', nanos: 0 },
      base_ejection_time: { seconds: '15', nanos: 0 },
      max_ejection_percent: { value: 40 },
    });
  });

  it('assigns endpoints by locality and failover priority', () => {
    const cla = decoded(front, XDS_TYPE_URL.endpoint, 'reviews');
    assert.deepEqual(
      list(cla, 'endpoints').map((g) => [
        at(g, 'locality', 'region'),
        at(g, 'priority'),
        at(g, 'load_balancing_weight', 'value'),
        at(g, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address', 'port_value'),
      ]),
      [
        ['eu', 0, 1, 15201],
        ['us', 1, 3, 15202],
      ],
    );
  });

  it('compiles route rules: matches, weights, retries, timeout, fault, mirror, headers, rewrites', () => {
    const rc = decoded(front, XDS_TYPE_URL.route, 'outbound');
    const vh = list(rc, 'virtual_hosts').find((v) => at(v, 'name') === 'reviews');
    assert.deepEqual(at(vh, 'domains'), ['reviews', 'reviews:9080']);
    const [byHeader, canary, rest] = list(vh, 'routes');
    assert.equal(at(byHeader, 'name'), 'reviews/by-header');
    assert.deepEqual(at(byHeader, 'match', 'safe_regex'), { regex: '^/api/v[0-9]+/.*$' });
    assert.deepEqual(at(byHeader, 'match', 'headers'), [
      { name: 'x-version', string_match: { exact: 'v2' } },
      { name: 'x-debug', present_match: true },
      { name: 'x-user', string_match: { prefix: 'test-' } },
      { name: ':method', string_match: { exact: 'GET' } },
    ]);
    const fault = at(byHeader, 'typed_per_filter_config', 'envoy.filters.http.fault');
    assert.deepEqual(at(fault, 'delay'), {
      fixed_delay: { seconds: '1', nanos: 500_000_000 },
      percentage: { numerator: 10, denominator: 'HUNDRED' },
    });
    assert.deepEqual(at(fault, 'abort'), {
      http_status: 503,
      percentage: { numerator: 5000, denominator: 'MILLION' },
    });
    assert.equal(at(byHeader, 'route', 'host_rewrite_literal'), 'reviews-v2');
    assert.deepEqual(at(canary, 'route', 'weighted_clusters', 'clusters'), [
      { name: 'reviews', weight: { value: 90 } },
      { name: 'reviews-v2', weight: { value: 10 } },
    ]);
    assert.deepEqual(at(canary, 'route', 'timeout'), { seconds: '3', nanos: 0 });
    assert.deepEqual(at(canary, 'route', 'retry_policy'), {
      retry_on: '5xx,connect-failure',
      num_retries: { value: 3 },
      per_try_timeout: { seconds: '1', nanos: 0 },
    });
    assert.deepEqual(at(canary, 'route', 'request_mirror_policies'), [
      {
        cluster: 'reviews-v2',
        runtime_fraction: { default_value: { numerator: 25, denominator: 'HUNDRED' } },
      },
    ]);
    assert.equal(at(canary, 'route', 'prefix_rewrite'), '/v1');
    assert.deepEqual(at(canary, 'route', 'hash_policy'), [{ header: { header_name: 'x-user' } }]);
    assert.deepEqual(at(canary, 'request_headers_to_add'), [
      { header: { key: 'x-canary', value: 'yes' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
      { header: { key: 'x-trail', value: 'a' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' },
    ]);
    assert.deepEqual(at(canary, 'request_headers_to_remove'), ['x-internal']);
    assert.deepEqual(at(canary, 'response_headers_to_remove'), ['server']);
    assert.equal(at(rest, 'route', 'cluster'), 'reviews');
    const v2 = list(rc, 'virtual_hosts').find((v) => at(v, 'name') === 'reviews-v2');
    assert.equal(at(v2, 'routes', 0, 'route', 'cluster'), 'reviews-v2');
  });

  it('is deterministic: the same input gives byte-identical resources', () => {
    const again = resources(
      compileMesh(config(), { commit: 'c0ffee', trustDomain: 'example.org' }),
      FRONTEND,
    );
    for (const [type, byName] of front) {
      for (const [name, r] of byName) {
        const other = again.get(type)?.get(name);
        assert.ok(other);
        assert.ok(Buffer.from(other.resource.value).equals(r.resource.value), `${type} ${name}`);
        assert.equal(other.version, r.version);
      }
    }
  });

  it('shares clusters, endpoints and route configurations between proxies', () => {
    const v2 = resources(snapshot, 'spiffe://partner.example/reviews-v2');
    for (const type of [XDS_TYPE_URL.cluster, XDS_TYPE_URL.endpoint, XDS_TYPE_URL.route]) {
      const name = type === XDS_TYPE_URL.route ? 'outbound' : 'reviews';
      assert.equal(v2.get(type)?.get(name), front.get(type)?.get(name), type);
    }
    // Instances are told apart by node metadata; each has its own listener and outbound address.
    const r1 = resources(snapshot, REVIEWS, 'reviews-1');
    const inbound = decoded(r1, XDS_TYPE_URL.listener, 'inbound');
    assert.equal(at(inbound, 'address', 'socket_address', 'port_value'), 15202);
    // `outbound: []`: the sidecar calls nothing, so it has no outbound listener or clusters.
    assert.equal(r1.get(XDS_TYPE_URL.listener)?.has('outbound'), false);
    assert.deepEqual([...(r1.get(XDS_TYPE_URL.cluster)?.keys() ?? [])], ['inbound_app']);
  });

  it('refuses unknown identities and ambiguous or unknown instances', () => {
    const no = (id: string, metadata: Record<string, unknown>) => {
      const r = snapshot.resourcesFor({ id, metadata });
      assert.equal(r.ok, false);
      return r.ok ? '' : r.reason;
    };
    assert.match(no('spiffe://example.org/nobody', {}), /no Service has SPIFFE ID/);
    assert.match(no(REVIEWS, {}), /node\.metadata\.instance must name one/);
    assert.match(no(REVIEWS, { instance: 'reviews-9' }), /no instance "reviews-9"/);
  });

  it('re-encodes only the changed load assignment on an endpoint change', () => {
    const added: Endpoint = {
      name: 'reviews-2',
      inbound: { host: '127.0.0.1', port: 15203 },
      app: { host: '127.0.0.1', port: 8203 },
      weight: 1,
    };
    const next = withEndpoints(snapshot, 'reviews', [added]);
    assert.equal(next.version, 'c0ffee.e1');
    assert.equal(withEndpoints(next, 'reviews', []).version, 'c0ffee.e2');
    const after = resources(next, FRONTEND);
    const eds = (r: ProxyResources, n: string) => r.get(XDS_TYPE_URL.endpoint)?.get(n);
    assert.notEqual(eds(after, 'reviews')?.version, eds(front, 'reviews')?.version);
    assert.equal(eds(after, 'reviews-v2'), eds(front, 'reviews-v2'));
    assert.equal(
      after.get(XDS_TYPE_URL.cluster)?.get('reviews'),
      front.get(XDS_TYPE_URL.cluster)?.get('reviews'),
    );
    const cla = decoded(after, XDS_TYPE_URL.endpoint, 'reviews');
    assert.equal(list(cla, 'endpoints').flatMap((g) => list(g, 'lb_endpoints')).length, 3);
    // The registered instance can now fetch its own listeners.
    const own = decoded(resources(next, REVIEWS, 'reviews-2'), XDS_TYPE_URL.listener, 'inbound');
    assert.equal(at(own, 'address', 'socket_address', 'port_value'), 15203);
  });

  it('places filters from other modules in order before the router', () => {
    const rbac: HttpFilterPiece = {
      order: HTTP_FILTER_ORDER.rbac,
      filters: (ctx) =>
        ctx.side === 'inbound'
          ? [
              {
                name: 'envoy.filters.http.rbac',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
                },
              },
            ]
          : [],
    };
    const s = compileMesh(config(), { commit: 'c', httpFilters: [rbac] });
    const l = decoded(resources(s, FRONTEND), XDS_TYPE_URL.listener, 'inbound');
    assert.deepEqual(
      list(l, ...HCM, 'http_filters').map((f) => at(f, 'name')),
      ['envoy.filters.http.rbac', 'envoy.filters.http.router'],
    );
  });

  it('is accepted by Envoy (envoy --mode validate)', { timeout: 30_000 }, async () => {
    const envoy = findPeer('envoy');
    const rendered = renderProxy(snapshot, { id: FRONTEND, metadata: {} });
    assert.ok(rendered.ok);
    // A bootstrap holds resources as messages, not Anys: drop the top-level `@type`.
    const plain = (list: readonly ProtoObject[]) => list.map(({ '@type': _, ...rest }) => rest);
    const [listeners, clusters, routes] = [
      plain(rendered.rendered.listeners),
      plain(rendered.rendered.clusters),
      plain(rendered.rendered.routes),
    ];
    // The RDS route configuration is validated too, inline in a copy of the outbound listener.
    const outbound = listeners.find((l) => l['name'] === 'outbound');
    assert.ok(outbound);
    const { rds: _, ...hcm } = at(outbound, ...HCM) as Record<string, unknown>;
    const inlineRoutes = {
      name: 'outbound_inline',
      address: { socket_address: { address: '127.0.0.1', port_value: 15999 } },
      filter_chains: [
        {
          filters: [
            {
              ...(at(outbound, 'filter_chains', 0, 'filters', 0) as object),
              typed_config: { ...hcm, route_config: routes[0] },
            },
          ],
        },
      ],
    };
    const grpcCluster = (name: string, address: ProtoObject) => ({
      name,
      type: 'STATIC',
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          explicit_http_config: { http2_protocol_options: {} },
        },
      },
      load_assignment: {
        cluster_name: name,
        endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }],
      },
    });
    const bootstrap = {
      node: { id: FRONTEND, cluster: 'frontend', metadata: { instance: 'frontend-0' } },
      static_resources: {
        listeners: [...listeners, inlineRoutes],
        clusters: [
          ...clusters,
          grpcCluster(MESH_NAMES.sdsCluster, { pipe: { path: '/tmp/parley-agent.sock' } }),
          grpcCluster(MESH_NAMES.xdsCluster, {
            socket_address: { address: '127.0.0.1', port_value: 18000 },
          }),
        ],
      },
      dynamic_resources: {
        ads_config: {
          api_type: 'GRPC',
          transport_api_version: 'V3',
          grpc_services: [{ envoy_grpc: { cluster_name: MESH_NAMES.xdsCluster } }],
        },
      },
    };
    await using dir = await makeTempDir('parley-mesh-envoy-');
    const file = join(dir.path, 'bootstrap.json');
    await writeFile(file, JSON.stringify(bootstrap));
    const { stdout, stderr } = await run(envoy, ['--mode', 'validate', '-c', file, '-l', 'error'], {
      timeout: 25_000,
    }).catch((err: { stdout?: string; stderr?: string }) =>
      assert.fail(`envoy rejected the config:\n${err.stdout ?? ''}\n${err.stderr ?? ''}`),
    );
    assert.match(stdout + stderr, /OK/);
  });
});

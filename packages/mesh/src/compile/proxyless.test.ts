import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { register as registerXds } from '@grpc/grpc-js-xds';
import { ClusterResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/cluster-resource-type.js';
import { EndpointResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/endpoint-resource-type.js';
import { ListenerResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/listener-resource-type.js';
import { RouteConfigurationResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/route-config-resource-type.js';
import type { XdsDecodeContext } from '@grpc/grpc-js-xds/build/src/xds-resource-type/xds-resource-type.js';
import { XDS_TYPE_URL, decodeAny } from '@parley/api';
import type { MeshConfig } from '../model/mesh-config.js';
import { parseMeshConfig } from '../model/parse-mesh-config.js';
import type { ProxyResources } from '../snapshot/mesh-snapshot.js';
import {
  PROXYLESS_CERTIFICATE_PROVIDER,
  PROXYLESS_METADATA_KEY,
  compileMesh,
} from './compile-mesh.js';

/** A gRPC client, a greeter with a canary, and a plain HTTP service with static endpoints. */
const MESH = `
apiVersion: parley.dev/v1
kind: Service
metadata: { name: client }
spec:
  spiffeId: spiffe://example.org/client
  ports: [{ name: grpc, port: 1, protocol: grpc }]
  sidecar: { outbound: [greeter] }
---
apiVersion: parley.dev/v1
kind: Service
metadata: { name: greeter }
spec:
  spiffeId: spiffe://example.org/greeter
  ports: [{ name: grpc, port: 50051, protocol: grpc }]
  endpoints:
    - { name: greeter-0, inbound: 127.0.0.1:15201, app: 127.0.0.1:8201 }
    - { name: greeter-1, inbound: 127.0.0.1:15202, app: 127.0.0.1:8202, locality: { region: eu, zone: a }, weight: 3 }
---
apiVersion: parley.dev/v1
kind: Service
metadata: { name: greeter-v2 }
spec:
  spiffeId: spiffe://example.org/greeter-v2
  ports: [{ name: grpc, port: 50051, protocol: grpc }]
  endpoints:
    - { name: greeter-v2-0, inbound: 127.0.0.1:15301, app: 127.0.0.1:8301 }
---
apiVersion: parley.dev/v1
kind: Service
metadata: { name: web }
spec:
  spiffeId: spiffe://example.org/web
  ports: [{ name: http, port: 8080 }]
---
apiVersion: parley.dev/v1
kind: Route
metadata: { name: greeter }
spec:
  host: greeter
  rules:
    - name: v2-by-header
      match:
        path: { prefix: /helloworld.Greeter/ }
        headers: [{ name: x-version, exact: v2 }]
      destinations: [{ service: greeter-v2 }]
      fault: { abort: { httpStatus: 503, percentage: 1 } }
    - name: canary
      destinations:
        - { service: greeter, weight: 90 }
        - { service: greeter-v2, weight: 10 }
      timeout: 2s
      retries: { attempts: 2, retryOn: [unavailable, 5xx], perTryTimeout: 500ms }
      mirror: { service: greeter-v2, percentage: 5 }
      requestHeaders: { add: [{ name: x-canary, value: "yes" }] }
      rewrite: { prefix: /v1 }
---
apiVersion: parley.dev/v1
kind: TrafficPolicy
metadata: { name: greeter }
spec:
  host: greeter
  loadBalancer: { policy: leastRequest }
  connectionPool: { maxRequests: 100, maxConnections: 10 }
  outlierDetection: { consecutive5xx: 3, interval: 5s, baseEjectionTime: 15s, maxEjectionPercent: 40 }
`;

const CLIENT = 'spiffe://example.org/client';
const WEB = 'spiffe://example.org/web';

function config(text = MESH): MeshConfig {
  const result = parseMeshConfig([{ path: 'mesh.yaml', text }]);
  if (!result.ok)
    assert.fail(result.problems.map((p) => `${p.line}: ${p.path}: ${p.message}`).join('\n'));
  return result.config;
}

function at(value: unknown, ...path: (string | number)[]): unknown {
  let v = value;
  for (const k of path)
    v =
      v === null || typeof v !== 'object' ? undefined : (v as Record<string | number, unknown>)[k];
  return v;
}

const names = (res: ProxyResources, typeUrl: string) =>
  [...(res.get(typeUrl as never)?.keys() ?? [])].sort();

function decoded(res: ProxyResources, typeUrl: string, name: string): unknown {
  const r = res.get(typeUrl as never)?.get(name);
  assert.ok(r, `no ${typeUrl} ${name}`);
  return decodeAny(r.resource);
}

/** What grpc-js-xds decodes with: a bootstrap that defines the `parley` provider instance. */
const CONTEXT = {
  server: { serverUri: 'unix:///agent.sock', channelCredentials: { type: 'insecure' } },
  bootstrap: {
    certificateProviders: {
      [PROXYLESS_CERTIFICATE_PROVIDER]: { pluginName: 'file_watcher', config: {} },
    },
  },
} as unknown as XdsDecodeContext;

describe('compileMesh for proxyless gRPC clients', () => {
  const snapshot = compileMesh(config(), { commit: 'c0ffee', trustDomain: 'example.org' });
  const proxyless = (id: string) => {
    const r = snapshot.resourcesFor({ id, metadata: { [PROXYLESS_METADATA_KEY]: true } });
    if (!r.ok) assert.fail(r.reason);
    return r.resources;
  };
  const client = proxyless(CLIENT);

  it('gives an API listener per destination, named as xds:/// targets', () => {
    assert.deepEqual(names(client, XDS_TYPE_URL.listener), ['greeter', 'greeter:50051']);
    const l = decoded(client, XDS_TYPE_URL.listener, 'greeter:50051');
    const hcm = at(l, 'api_listener', 'api_listener');
    assert.equal(
      at(hcm, '@type'),
      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    );
    assert.deepEqual(at(hcm, 'rds'), {
      route_config_name: 'proxyless.' + (at(hcm, 'rds', 'route_config_name') as string).slice(10),
      config_source: { ads: {}, resource_api_version: 'V3' },
    });
    assert.deepEqual(
      (at(hcm, 'http_filters') as unknown[]).map((f) => at(f, 'name')),
      ['envoy.filters.http.fault', 'envoy.filters.http.router'],
    );
    assert.equal(at(l, 'address'), undefined);
    // A client of every service gets the plain route configuration name and every listener.
    const all = proxyless(WEB);
    assert.deepEqual(names(all, XDS_TYPE_URL.route), ['proxyless']);
    assert.deepEqual(names(all, XDS_TYPE_URL.listener), [
      'client',
      'client:1',
      'greeter',
      'greeter-v2',
      'greeter-v2:50051',
      'greeter:50051',
      'web',
      'web:8080',
    ]);
  });

  it('routes in the subset gRPC understands: matches, weights, max_stream_duration, retries, fault', () => {
    const [routeName] = names(client, XDS_TYPE_URL.route);
    assert.ok(routeName?.startsWith('proxyless.'));
    const rc = decoded(client, XDS_TYPE_URL.route, routeName ?? '');
    const vh = at(rc, 'virtual_hosts', 0);
    assert.deepEqual(at(vh, 'domains'), ['greeter', 'greeter:50051']);
    const [byHeader, canary] = at(vh, 'routes') as unknown[];
    assert.deepEqual(at(byHeader, 'match'), {
      prefix: '/helloworld.Greeter/',
      headers: [{ name: 'x-version', string_match: { exact: 'v2' } }],
    });
    assert.deepEqual(at(byHeader, 'route'), { cluster: 'greeter-v2' });
    assert.deepEqual(
      at(byHeader, 'typed_per_filter_config', 'envoy.filters.http.fault', 'abort', 'http_status'),
      503,
    );
    assert.deepEqual(at(canary, 'route'), {
      weighted_clusters: {
        clusters: [
          { name: 'greeter', weight: { value: 90 } },
          { name: 'greeter-v2', weight: { value: 10 } },
        ],
      },
      max_stream_duration: { max_stream_duration: { seconds: '2', nanos: 0 } },
      retry_policy: { retry_on: 'unavailable,5xx', num_retries: { value: 2 } },
    });
    // Mirroring, rewrites and header changes have no gRPC equivalent.
    assert.equal(at(canary, 'request_headers_to_add'), undefined);
  });

  it('gives clusters mTLS through the certificate provider, matching the SPIFFE ID', () => {
    assert.deepEqual(names(client, XDS_TYPE_URL.cluster), ['greeter', 'greeter-v2']);
    const c = decoded(client, XDS_TYPE_URL.cluster, 'greeter');
    assert.equal(at(c, 'type'), 'EDS');
    assert.equal(at(c, 'lb_policy'), 'ROUND_ROBIN');
    assert.deepEqual(at(c, 'circuit_breakers', 'thresholds', 0), {
      priority: 'DEFAULT',
      max_requests: { value: 100 },
    });
    assert.equal(at(c, 'outlier_detection'), undefined);
    const ctx = at(c, 'transport_socket', 'typed_config', 'common_tls_context');
    assert.deepEqual(ctx, {
      tls_certificate_provider_instance: { instance_name: 'parley' },
      validation_context: {
        ca_certificate_provider_instance: { instance_name: 'parley' },
        match_subject_alt_names: [{ exact: 'spiffe://example.org/greeter' }],
      },
    });
  });

  it('gives every endpoint group a locality and a weight', () => {
    const cla = decoded(client, XDS_TYPE_URL.endpoint, 'greeter');
    const groups = at(cla, 'endpoints') as unknown[];
    assert.deepEqual(
      groups.map((g) => [at(g, 'locality'), at(g, 'load_balancing_weight', 'value')]),
      [
        [{}, 1],
        [{ region: 'eu', zone: 'a' }, 3],
      ],
    );
  });

  it('refuses a proxyless flag that is not a boolean, and keeps sidecars as they were', () => {
    const r = snapshot.resourcesFor({ id: CLIENT, metadata: { proxyless: 'yes' } });
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, /proxyless must be true or false/);
    const sidecar = snapshot.resourcesFor({ id: CLIENT, metadata: { proxyless: false } });
    assert.ok(sidecar.ok);
    assert.deepEqual(names(sidecar.resources, XDS_TYPE_URL.listener), ['outbound']);
  });

  it('is accepted by grpc-js-xds’s own resource validation', () => {
    registerXds();
    for (const res of [client, proxyless(WEB)]) {
      const types = [
        [XDS_TYPE_URL.listener, ListenerResourceType.get()],
        [XDS_TYPE_URL.route, RouteConfigurationResourceType.get()],
        [XDS_TYPE_URL.cluster, ClusterResourceType.get()],
        [XDS_TYPE_URL.endpoint, EndpointResourceType.get()],
      ] as const;
      for (const [typeUrl, type] of types) {
        for (const [name, r] of res.get(typeUrl) ?? []) {
          const result = type.decode(CONTEXT, {
            type_url: r.resource.type_url,
            value: Buffer.from(r.resource.value),
          });
          assert.equal(result.error, undefined, `${typeUrl} ${name}: ${result.error ?? ''}`);
          assert.equal(result.name, name);
        }
      }
    }
    // The check has teeth: a sidecar's cluster (SDS, tls_params) is not for gRPC.
    const sidecar = snapshot.resourcesFor({ id: CLIENT, metadata: {} });
    assert.ok(sidecar.ok);
    const envoyCluster = sidecar.resources.get(XDS_TYPE_URL.cluster)?.get('greeter');
    assert.ok(envoyCluster);
    const rejected = ClusterResourceType.get().decode(CONTEXT, {
      type_url: envoyCluster.resource.type_url,
      value: Buffer.from(envoyCluster.resource.value),
    });
    assert.match(rejected.error ?? '', /tls_params/);
  });
});

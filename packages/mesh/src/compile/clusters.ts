import type { ProtoObject } from '@parley/api';
import type { Endpoint, Service, TrafficPolicy } from '../model/mesh-config.js';
import { MESH_NAMES } from '../snapshot/mesh-snapshot.js';
import { INBOUND_APP_CLUSTER } from './listeners.js';
import { ADS_SOURCE, TYPE, duration, sdsSecret, socketAddress } from './xds-resource.js';

const CONNECT_TIMEOUT_MS = 5000;

const LB_POLICY = {
  roundRobin: 'ROUND_ROBIN',
  leastRequest: 'LEAST_REQUEST',
  random: 'RANDOM',
  ringHash: 'RING_HASH',
} as const;

function protocolOptions(service: Service): ProtoObject {
  const protocol = service.ports[0]?.protocol;
  return protocol === 'http2' || protocol === 'grpc'
    ? {
        typed_extension_protocol_options: {
          'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
            '@type': TYPE.httpProtocolOptions,
            explicit_http_config: { http2_protocol_options: {} },
          },
        },
      }
    : {};
}

/**
 * The SDS name of the validation context for a destination: `ROOTCA` in the mesh's own trust
 * domain, else `spiffe://<its trust domain>` (a federated bundle).
 */
export function validationContextName(service: Service, trustDomain: string | undefined): string {
  const td = service.spiffeId.trustDomain.name;
  return trustDomain === undefined || td === trustDomain
    ? MESH_NAMES.ownTrustDomain
    : `spiffe://${td}`;
}

/**
 * The cluster of a destination service: endpoints by EDS over ADS, mTLS with the proxy's own SVID
 * that accepts exactly the destination's SPIFFE ID, and the service's TrafficPolicy.
 */
export function destinationCluster(
  service: Service,
  policy: TrafficPolicy | undefined,
  trustDomain: string | undefined,
): ProtoObject {
  const lb = policy?.loadBalancer;
  const pool = policy?.connectionPool;
  const od = policy?.outlierDetection;
  const limit = (v: number | undefined) => (v === undefined ? {} : { value: v });
  return {
    name: service.metadata.name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS_SOURCE },
    connect_timeout: duration(CONNECT_TIMEOUT_MS),
    lb_policy: LB_POLICY[lb?.policy ?? 'roundRobin'],
    ...(lb?.ringHash !== undefined && {
      ring_hash_lb_config: { minimum_ring_size: { value: lb.ringHash.minimumRingSize } },
    }),
    ...(lb?.localityWeighted === true && {
      common_lb_config: { locality_weighted_lb_config: {} },
    }),
    ...(pool !== undefined && {
      circuit_breakers: {
        thresholds: [
          {
            priority: 'DEFAULT',
            ...(pool.maxConnections !== undefined && {
              max_connections: limit(pool.maxConnections),
            }),
            ...(pool.maxPendingRequests !== undefined && {
              max_pending_requests: limit(pool.maxPendingRequests),
            }),
            ...(pool.maxRequests !== undefined && { max_requests: limit(pool.maxRequests) }),
            ...(pool.maxRetries !== undefined && { max_retries: limit(pool.maxRetries) }),
          },
        ],
      },
    }),
    ...(od !== undefined && {
      outlier_detection: {
        consecutive_5xx: { value: od.consecutive5xx },
        interval: duration(od.interval),
        base_ejection_time: duration(od.baseEjectionTime),
        max_ejection_percent: { value: od.maxEjectionPercent },
      },
    }),
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': TYPE.upstreamTls,
        sni: service.metadata.name,
        common_tls_context: {
          tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
          tls_certificate_sds_secret_configs: [sdsSecret(MESH_NAMES.ownCertificate)],
          combined_validation_context: {
            default_validation_context: {
              match_typed_subject_alt_names: [
                { san_type: 'URI', matcher: { exact: service.spiffeId.toString() } },
              ],
            },
            validation_context_sds_secret_config: sdsSecret(
              validationContextName(service, trustDomain),
            ),
          },
        },
      },
    },
    ...protocolOptions(service),
  };
}

/** The cluster of the local app behind an instance's inbound listener (plain, on loopback). */
export function inboundAppCluster(service: Service, endpoint: Endpoint): ProtoObject {
  return {
    name: INBOUND_APP_CLUSTER,
    type: 'STATIC',
    connect_timeout: duration(CONNECT_TIMEOUT_MS),
    load_assignment: {
      cluster_name: INBOUND_APP_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(endpoint.app) } }] }],
    },
    ...protocolOptions(service),
  };
}

/**
 * The cluster of a destination service for a proxyless gRPC client (`@grpc/grpc-js-xds`, gRFC
 * A27/A29): endpoints by EDS over ADS (the destination's sidecars), mTLS through the client's
 * bootstrap certificate provider instance `certificateProvider` (its own SVID and the bundle,
 * typically `file_watcher` over the files `parley api fetch x509 --write` keeps), accepting exactly
 * the destination's SPIFFE ID as a URI SAN. Only what gRPC implements is emitted: round robin or
 * ring hash (least request and random fall back to round robin) and the request limit of the
 * circuit breaker; Envoy's `consecutive_5xx` outlier detection has no gRPC counterpart.
 */
export function proxylessCluster(
  service: Service,
  policy: TrafficPolicy | undefined,
  certificateProvider: string,
): ProtoObject {
  const lb = policy?.loadBalancer;
  const maxRequests = policy?.connectionPool?.maxRequests;
  return {
    name: service.metadata.name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS_SOURCE },
    connect_timeout: duration(CONNECT_TIMEOUT_MS),
    ...(lb?.ringHash === undefined
      ? { lb_policy: 'ROUND_ROBIN' }
      : {
          lb_policy: 'RING_HASH',
          ring_hash_lb_config: { minimum_ring_size: { value: lb.ringHash.minimumRingSize } },
        }),
    ...(maxRequests !== undefined && {
      circuit_breakers: {
        thresholds: [{ priority: 'DEFAULT', max_requests: { value: maxRequests } }],
      },
    }),
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': TYPE.upstreamTls,
        // grpc-js-xds rejects tls_params, SDS and custom validators: certificates come from the
        // client's certificate provider, and SANs are matched by `match_subject_alt_names`.
        common_tls_context: {
          tls_certificate_provider_instance: { instance_name: certificateProvider },
          validation_context: {
            ca_certificate_provider_instance: { instance_name: certificateProvider },
            match_subject_alt_names: [{ exact: service.spiffeId.toString() }],
          },
        },
      },
    },
  };
}

/**
 * A cluster to a gRPC service of the Parley server (the ext_authz Check service, the decision
 * log): HTTP/2 over mTLS with the proxy's own SVID, accepting exactly the server's SPIFFE ID.
 */
export function controlPlaneCluster(
  name: string,
  address: { host: string; port: number },
  serverId: string,
): ProtoObject {
  return {
    name,
    type: 'STATIC',
    connect_timeout: duration(CONNECT_TIMEOUT_MS),
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(address) } }] }],
    },
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': TYPE.httpProtocolOptions,
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    transport_socket: serverTlsSocket(serverId),
  };
}

/**
 * The TLS a sidecar talks to the Parley server with: its own SVID (SDS `default`), and the
 * server's certificate verified by the trust domain's bundle (SDS `ROOTCA`) with the server's
 * SPIFFE ID as URI SAN. `sni` names the host when the server is reached by a URL.
 */
export function serverTlsSocket(serverId: string, sni?: string): ProtoObject {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': TYPE.upstreamTls,
      ...(sni !== undefined && { sni }),
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
        tls_certificate_sds_secret_configs: [sdsSecret(MESH_NAMES.ownCertificate)],
        combined_validation_context: {
          default_validation_context: {
            match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: serverId } }],
          },
          validation_context_sds_secret_config: sdsSecret(MESH_NAMES.ownTrustDomain),
        },
      },
    },
  };
}

import type { ProtoObject } from '@parley/api';
import type { Endpoint, Service, SocketAddress } from '../model/mesh-config.js';
import { MESH_NAMES } from '../snapshot/mesh-snapshot.js';
import { type HttpFilterContext, type HttpFilterPiece, accessLog, httpFilters } from './filters.js';
import { ADS_SOURCE, TYPE, duration, sdsSecret, socketAddress } from './xds-resource.js';

/** Name of a sidecar's inbound (mTLS) listener. */
export const INBOUND_LISTENER = 'inbound';
/** Name of a sidecar's outbound (plain HTTP on loopback) listener. */
export const OUTBOUND_LISTENER = 'outbound';
/** Name of the cluster of the local app, behind the inbound listener. */
export const INBOUND_APP_CLUSTER = 'inbound_app';

const HCM_FILTER = 'envoy.filters.network.http_connection_manager';

/**
 * How an inbound HTTP connection manager normalizes the path before any filter sees it: RFC 3986
 * normalization, merged slashes, and a request whose path holds an encoded slash or backslash
 * refused (400) rather than passed on with two readings (docs/authz.md).
 */
export const INBOUND_PATH_NORMALIZATION = {
  normalize_path: { value: true },
  merge_slashes: true,
  path_with_escaped_slashes_action: 'REJECT_REQUEST',
} as const;

function hcm(
  ctx: HttpFilterContext,
  routing: ProtoObject,
  pieces: readonly HttpFilterPiece[],
): ProtoObject {
  const { side } = ctx;
  return {
    name: HCM_FILTER,
    typed_config: {
      '@type': TYPE.hcm,
      stat_prefix: side,
      codec_type: 'AUTO',
      ...routing,
      http_filters: httpFilters(ctx, pieces),
      access_log: accessLog(ctx, pieces),
      generate_request_id: { value: true },
      // The caller's sidecar made the request ID and trace context; keep them end to end.
      preserve_external_request_id: true,
      ...(side === 'inbound' && {
        ...INBOUND_PATH_NORMALIZATION,
        // A denied response carries the request ID, to look the decision up by.
        always_set_request_id_in_response: true,
        forward_client_cert_details: 'SANITIZE_SET',
        set_current_client_cert_details: { uri: true },
      }),
    },
  };
}

/**
 * The inbound listener of one instance's sidecar: mTLS that requires a client certificate
 * (the SVID `default` and the `ROOTCA` validation context from the agent over SDS), then HTTP to
 * the app on loopback.
 */
export function inboundListener(
  service: Service,
  endpoint: Endpoint,
  pieces: readonly HttpFilterPiece[],
): ProtoObject {
  const routing = {
    route_config: {
      name: INBOUND_LISTENER,
      virtual_hosts: [
        {
          name: INBOUND_APP_CLUSTER,
          domains: ['*'],
          routes: [
            {
              name: `${service.metadata.name}/inbound`,
              match: { prefix: '/' },
              // The caller's route timeout governs; the inbound hop adds none of its own.
              route: { cluster: INBOUND_APP_CLUSTER, timeout: duration(0) },
            },
          ],
        },
      ],
    },
  };
  return {
    name: INBOUND_LISTENER,
    address: socketAddress(endpoint.inbound),
    filter_chains: [
      {
        filters: [hcm({ side: 'inbound', service, endpoint }, routing, pieces)],
        transport_socket: {
          name: 'envoy.transport_sockets.tls',
          typed_config: {
            '@type': TYPE.downstreamTls,
            require_client_certificate: { value: true },
            common_tls_context: {
              tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
              tls_certificate_sds_secret_configs: [sdsSecret(MESH_NAMES.ownCertificate)],
              validation_context_sds_secret_config: sdsSecret(MESH_NAMES.ownTrustDomain),
              alpn_protocols: ['h2', 'http/1.1'],
            },
          },
        },
      },
    ],
  };
}

/** The outbound listener of a sidecar: plain HTTP from its app on loopback, routed by RDS. */
export function outboundListener(
  service: Service,
  address: SocketAddress,
  routeConfigName: string,
  pieces: readonly HttpFilterPiece[],
  endpoint?: Endpoint,
  egressSecrets: readonly string[] = [],
): ProtoObject {
  const ctx: HttpFilterContext = {
    side: 'outbound',
    service,
    ...(endpoint !== undefined && { endpoint }),
    egressSecrets,
  };
  const routing = { rds: { route_config_name: routeConfigName, config_source: ADS_SOURCE } };
  return {
    name: OUTBOUND_LISTENER,
    address: socketAddress(address),
    filter_chains: [{ filters: [hcm(ctx, routing, pieces)] }],
  };
}

/**
 * An API listener for a proxyless gRPC client: `xds:///<name>` makes grpc-js-xds ask LDS for the
 * listener `<name>`, whose HttpConnectionManager names the RouteConfiguration to fetch over ADS.
 * Its HTTP filters are those gRPC implements (fault injection, then the router).
 */
export function apiListener(name: string, routeConfigName: string): ProtoObject {
  return {
    name,
    api_listener: {
      api_listener: {
        '@type': TYPE.hcm,
        stat_prefix: 'proxyless',
        rds: { route_config_name: routeConfigName, config_source: ADS_SOURCE },
        http_filters: [
          { name: 'envoy.filters.http.fault', typed_config: { '@type': TYPE.fault } },
          { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE.router } },
        ],
      },
    },
  };
}

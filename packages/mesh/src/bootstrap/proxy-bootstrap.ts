import { checkMessage } from '@parley/api';
import { ParleyError, type SpiffeId } from '@parley/core';
import { MESH_NAMES } from '../snapshot/mesh-snapshot.js';

/** What `parley proxy bootstrap` needs to write an Envoy sidecar's bootstrap. */
export interface ProxyBootstrapInput {
  /** The proxy's SPIFFE ID: its `node.id`, which its SDS-delivered SVID must carry. */
  readonly spiffeId: SpiffeId;
  /** Which instance of its service the proxy fronts (`node.metadata.instance`), if several. */
  readonly instance?: string;
  /** The agent socket the proxy gets its SVID and trust bundle from (SDS). */
  readonly agentSocket: string;
  /** `host:port` of the server's ADS listener. */
  readonly xdsAddress: { readonly host: string; readonly port: number };
  /** The SPIFFE ID the ADS server must present (`spiffe://<td>/parley/server`). */
  readonly serverId: SpiffeId;
  /** Envoy's admin port on 127.0.0.1 (0 = any; read it with `--admin-address-path`). */
  readonly adminPort: number;
  /** Use delta xDS (`DELTA_GRPC`) instead of state of the world. */
  readonly delta: boolean;
}

const SDS_CONFIG = {
  api_config_source: {
    api_type: 'GRPC',
    transport_api_version: 'V3',
    grpc_services: [{ envoy_grpc: { cluster_name: MESH_NAMES.sdsCluster } }],
  },
  resource_api_version: 'V3',
};

const HTTP2_ONLY = {
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    explicit_http_config: { http2_protocol_options: {} },
  },
};

function staticCluster(name: string, address: object, extra: object): object {
  return {
    name,
    type: 'STATIC',
    connect_timeout: { seconds: 1, nanos: 0 },
    typed_extension_protocol_options: HTTP2_ONLY,
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }],
    },
    ...extra,
  };
}

/**
 * An Envoy v3 bootstrap for a sidecar: ADS to the Parley server over mTLS with the proxy's own
 * SVID (SDS name `default`, server checked against `ROOTCA` and its exact SPIFFE ID), SDS from
 * the local agent's socket, admin on loopback only. Checked against Envoy's schema before it is
 * returned.
 */
export function mintProxyBootstrap(input: ProxyBootstrapInput): Record<string, unknown> {
  const bootstrap = {
    node: {
      id: input.spiffeId.toString(),
      cluster: input.spiffeId.path.slice(1) || 'proxy',
      metadata:
        input.instance === undefined
          ? { fields: {} }
          : { fields: { instance: { stringValue: input.instance } } },
    },
    admin: {
      address: { socket_address: { address: '127.0.0.1', port_value: input.adminPort } },
    },
    dynamic_resources: {
      ads_config: {
        api_type: input.delta ? 'DELTA_GRPC' : 'GRPC',
        transport_api_version: 'V3',
        set_node_on_first_message_only: true,
        grpc_services: [{ envoy_grpc: { cluster_name: MESH_NAMES.xdsCluster } }],
      },
      cds_config: { ads: {}, resource_api_version: 'V3' },
      lds_config: { ads: {}, resource_api_version: 'V3' },
    },
    static_resources: {
      clusters: [
        staticCluster(MESH_NAMES.sdsCluster, { pipe: { path: input.agentSocket } }, {}),
        staticCluster(
          MESH_NAMES.xdsCluster,
          { socket_address: { address: input.xdsAddress.host, port_value: input.xdsAddress.port } },
          {
            transport_socket: {
              name: 'envoy.transport_sockets.tls',
              typed_config: {
                '@type':
                  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
                common_tls_context: {
                  tls_certificate_sds_secret_configs: [
                    { name: MESH_NAMES.ownCertificate, sds_config: SDS_CONFIG },
                  ],
                  combined_validation_context: {
                    default_validation_context: {
                      match_typed_subject_alt_names: [
                        { san_type: 'URI', matcher: { exact: input.serverId.toString() } },
                      ],
                    },
                    validation_context_sds_secret_config: {
                      name: MESH_NAMES.ownTrustDomain,
                      sds_config: SDS_CONFIG,
                    },
                  },
                },
              },
            },
          },
        ),
      ],
    },
  };
  const problems = checkMessage('envoy.config.bootstrap.v3.Bootstrap', bootstrap);
  if (problems.length > 0) {
    throw new ParleyError(
      'internal',
      `bootstrap does not match Envoy's schema: ${problems.join('; ')}`,
    );
  }
  return bootstrap;
}

// Static Envoy 1.40 bootstraps for the authorization data-path benchmark: a client sidecar (plain
// HTTP on loopback → mTLS to the server sidecar) and a server sidecar (SPIFFE mTLS inbound → the
// app) whose inbound HTTP connection manager is the mesh compiler's (path normalization, request
// ids) with the filters under test before the router. TLS settings are the mesh compiler's, with
// certificates inline instead of SDS (which only changes how they arrive).
import { checkMessage, toProto3Json } from '@parley/api';
import type { HttpFilterConfig } from '@parley/authz';
import { INBOUND_PATH_NORMALIZATION } from '@parley/mesh';
import { PARLEY_SERVER_ID, SERVER, TRUST_DOMAIN } from './dataplane-policy.js';

/** An X509-SVID and the trust bundle, as PEM. */
export interface TlsFiles {
  readonly chain: string;
  readonly key: string;
  readonly bundle: string;
}

/** Where the ext_authz cluster reaches the Check service: the server (mTLS) or the agent socket. */
export type CheckEndpoint =
  | { readonly kind: 'server'; readonly port: number }
  | { readonly kind: 'agent'; readonly socket: string };

/** The cluster name the ext_authz filter calls (as the mesh compiler names it for each kind). */
export const CHECK_CLUSTER = { server: 'parley_authz', agent: 'parley_agent' } as const;

const TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.';
const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = {
  name: 'envoy.filters.http.router',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
};
const HTTP2_ONLY = {
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    explicit_http_config: { http2_protocol_options: {} },
  },
};

function spiffeValidation(bundle: string, peer?: string): object {
  return {
    custom_validator_config: {
      name: 'envoy.tls.cert_validator.spiffe',
      typed_config: {
        '@type': `${TLS}SPIFFECertValidatorConfig`,
        trust_domains: [{ name: TRUST_DOMAIN, trust_bundle: { inline_string: bundle } }],
      },
    },
    ...(peer !== undefined && {
      match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: peer } }],
    }),
  };
}

function commonTls(tls: TlsFiles, peer?: string, alpn?: readonly string[]): object {
  return {
    tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
    tls_certificates: [
      { certificate_chain: { inline_string: tls.chain }, private_key: { inline_string: tls.key } },
    ],
    validation_context: spiffeValidation(tls.bundle, peer),
    ...(alpn !== undefined && { alpn_protocols: alpn }),
  };
}

function staticCluster(name: string, address: object, extra: object = {}): object {
  return {
    name,
    type: 'STATIC',
    connect_timeout: { seconds: 5, nanos: 0 },
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }],
    },
    ...extra,
  };
}

const loopback = (port: number) => ({
  socket_address: { address: '127.0.0.1', port_value: port },
});

function bootstrap(listener: object, clusters: readonly object[]): unknown {
  const b = {
    admin: { address: loopback(0) },
    static_resources: { listeners: [listener], clusters },
  };
  const problems = checkMessage('envoy.config.bootstrap.v3.Bootstrap', b);
  if (problems.length > 0) throw new Error(`bootstrap: ${problems.join('; ')}`);
  return toProto3Json('envoy.config.bootstrap.v3.Bootstrap', b);
}

/**
 * The client sidecar: plain HTTP on 127.0.0.1:`port` (its outbound listener) routed to the server
 * sidecar at `serverPort` over mTLS with the client's SVID, accepting exactly the server's ID.
 */
export function clientSidecar(port: number, serverPort: number, tls: TlsFiles): unknown {
  const listener = {
    name: 'outbound',
    address: loopback(port),
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM,
              stat_prefix: 'outbound',
              codec_type: 'AUTO',
              generate_request_id: { value: true },
              preserve_external_request_id: true,
              route_config: {
                virtual_hosts: [
                  {
                    name: SERVER.service,
                    domains: ['*'],
                    routes: [{ match: { prefix: '/' }, route: { cluster: SERVER.service } }],
                  },
                ],
              },
              http_filters: [ROUTER],
            },
          },
        ],
      },
    ],
  };
  const upstream = staticCluster(SERVER.service, loopback(serverPort), {
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': `${TLS}UpstreamTlsContext`,
        sni: SERVER.service,
        common_tls_context: commonTls(tls, SERVER.spiffeId),
      },
    },
  });
  return bootstrap(listener, [upstream]);
}

/**
 * The server sidecar: an mTLS listener on 127.0.0.1:`port` requiring a client SVID, the mesh
 * compiler's inbound HTTP connection manager with `filters` before the router, the app at
 * `appPort`, and, for ext_authz, the cluster to the Check service at `check`.
 */
export function serverSidecar(
  port: number,
  appPort: number,
  tls: TlsFiles,
  filters: readonly HttpFilterConfig[],
  check?: CheckEndpoint,
): unknown {
  const listener = {
    name: 'inbound',
    address: loopback(port),
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM,
              stat_prefix: 'inbound',
              codec_type: 'AUTO',
              route_config: {
                virtual_hosts: [
                  {
                    name: 'inbound_app',
                    domains: ['*'],
                    routes: [
                      {
                        match: { prefix: '/' },
                        route: { cluster: 'inbound_app', timeout: { seconds: 0, nanos: 0 } },
                      },
                    ],
                  },
                ],
              },
              http_filters: [...filters, ROUTER],
              generate_request_id: { value: true },
              preserve_external_request_id: true,
              ...INBOUND_PATH_NORMALIZATION,
              always_set_request_id_in_response: true,
              forward_client_cert_details: 'SANITIZE_SET',
              set_current_client_cert_details: { uri: true },
            },
          },
        ],
        transport_socket: {
          name: 'envoy.transport_sockets.tls',
          typed_config: {
            '@type': `${TLS}DownstreamTlsContext`,
            require_client_certificate: { value: true },
            common_tls_context: commonTls(tls, undefined, ['h2', 'http/1.1']),
          },
        },
      },
    ],
  };
  const clusters: object[] = [staticCluster('inbound_app', loopback(appPort))];
  if (check?.kind === 'server') {
    // controlPlaneCluster of @parley/mesh: HTTP/2 over mTLS with the sidecar's own SVID,
    // accepting exactly the Parley server's SPIFFE ID.
    clusters.push(
      staticCluster(CHECK_CLUSTER.server, loopback(check.port), {
        typed_extension_protocol_options: HTTP2_ONLY,
        transport_socket: {
          name: 'envoy.transport_sockets.tls',
          typed_config: {
            '@type': `${TLS}UpstreamTlsContext`,
            common_tls_context: commonTls(tls, PARLEY_SERVER_ID),
          },
        },
      }),
    );
  } else if (check?.kind === 'agent') {
    // The proxy bootstrap's SDS cluster: HTTP/2 on the agent's Unix socket, no TLS.
    clusters.push(
      staticCluster(
        CHECK_CLUSTER.agent,
        { pipe: { path: check.socket } },
        { typed_extension_protocol_options: HTTP2_ONLY },
      ),
    );
  }
  return bootstrap(listener, clusters);
}

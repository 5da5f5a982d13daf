import { createHash } from 'node:crypto';
import type { AuthzJwtIssuer, ProtoObject } from '@parley/api';

/** The CA bundle Envoy verifies an https JWKS server with by default (Debian's system bundle). */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** How long Envoy waits to connect to a JWKS server. */
export const JWKS_CONNECT_TIMEOUT_MS = 5000;

/** Where Envoy finds the CAs of https JWKS servers: a PEM file, or PEM text. */
export type JwksTrustedCa = { readonly filename: string } | { readonly pem: string };

const UPSTREAM_TLS_TYPE_URL =
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

interface JwksEndpoint {
  readonly https: boolean;
  readonly host: string;
  readonly port: number;
  readonly ip: boolean;
}

function endpointOf(uri: string): JwksEndpoint {
  const url = new URL(uri);
  const https = url.protocol === 'https:';
  const bracketed = url.hostname.startsWith('[');
  const host = bracketed ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (https ? 443 : 80) : Number(url.port);
  return { https, host, port, ip: bracketed || /^\d{1,3}(\.\d{1,3}){3}$/.test(host) };
}

/**
 * The name of the cluster Envoy fetches `uri` through: one per scheme, host and port, with
 * `_` (which no Service name holds) so it never meets a Service's cluster.
 */
export function jwksClusterName(uri: string): string {
  const { https, host, port } = endpointOf(uri);
  const safe = host.replace(/[^A-Za-z0-9.-]/g, '_');
  const suffix =
    safe === host ? '' : `_${createHash('sha256').update(host).digest('hex').slice(0, 8)}`;
  return `jwks_${https ? 'https' : 'http'}_${safe}_${port}${suffix}`;
}

/**
 * The clusters (envoy.config.cluster.v3.Cluster) Envoy fetches the remote JWKS of `issuers`
 * through, one per scheme, host and port, in name order: STATIC for an IP address, LOGICAL_DNS for
 * a name; for https, TLS 1.2+ with SNI and the server certificate verified against `trustedCa`
 * (default: the system bundle) and the URI's host as its DNS or IP SAN.
 */
export function jwksClusters(
  issuers: readonly AuthzJwtIssuer[],
  options: {
    readonly trustedCa?: JwksTrustedCa;
    /**
     * Parley's own OAuth issuer: JWKS URIs of this origin (`https://host:port`) are fetched
     * with this transport socket (the server's SVID verified over SDS) instead of `trustedCa`.
     */
    readonly own?: { readonly origin: string; readonly transportSocket: ProtoObject };
  } = {},
): ProtoObject[] {
  const trustedCa = options.trustedCa ?? { filename: SYSTEM_CA_BUNDLE };
  const ownSocket = (uri: string) =>
    options.own !== undefined && new URL(uri).origin === options.own.origin
      ? options.own.transportSocket
      : undefined;
  const clusters = new Map<string, ProtoObject>();
  for (const issuer of issuers) {
    if (issuer.jwks.kind !== 'remote') continue;
    const name = jwksClusterName(issuer.jwks.uri);
    if (clusters.has(name)) continue;
    const { https, host, port, ip } = endpointOf(issuer.jwks.uri);
    clusters.set(name, {
      name,
      type: ip ? 'STATIC' : 'LOGICAL_DNS',
      ...(!ip && { dns_lookup_family: 'V4_PREFERRED' }),
      connect_timeout: {
        seconds: Math.floor(JWKS_CONNECT_TIMEOUT_MS / 1000),
        nanos: (JWKS_CONNECT_TIMEOUT_MS % 1000) * 1e6,
      },
      load_assignment: {
        cluster_name: name,
        endpoints: [
          {
            lb_endpoints: [
              { endpoint: { address: { socket_address: { address: host, port_value: port } } } },
            ],
          },
        ],
      },
      ...(https && {
        transport_socket: ownSocket(issuer.jwks.uri) ?? {
          name: 'envoy.transport_sockets.tls',
          typed_config: {
            '@type': UPSTREAM_TLS_TYPE_URL,
            ...(!ip && { sni: host }),
            common_tls_context: {
              tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
              validation_context: {
                trusted_ca:
                  'pem' in trustedCa
                    ? { inline_string: trustedCa.pem }
                    : { filename: trustedCa.filename },
                match_typed_subject_alt_names: [
                  { san_type: ip ? 'IP_ADDRESS' : 'DNS', matcher: { exact: host } },
                ],
              },
            },
          },
        },
      }),
    });
  }
  return [...clusters.keys()].sort().map((name) => clusters.get(name) as ProtoObject);
}

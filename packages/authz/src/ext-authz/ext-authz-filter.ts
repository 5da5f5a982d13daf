import type { ProtoObject } from '@parley/api';
import { JWT_AUTHN_NAMESPACE } from './check-request.js';

/** The type URL of Envoy's ext_authz HTTP filter config. */
export const EXT_AUTHZ_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';

/** How long Envoy waits for a Check answer by default (then denies: it fails closed). */
export const DEFAULT_EXT_AUTHZ_TIMEOUT_MS = 500;

/**
 * Envoy's ext_authz HTTP filter calling Parley's Check service on `clusterName` over gRPC (v3):
 * fail closed (`failure_mode_allow: false`, 403 when the service errs or is unreachable), raw
 * headers so repeated headers arrive apart and unsanitized, and the JWT filter's metadata so
 * end-user claims reach the decision. The peer certificate is not sent: the principal is enough.
 */
export function extAuthzFilter(opts: { clusterName: string; timeoutMs?: number }): {
  name: 'envoy.filters.http.ext_authz';
  typed_config: ProtoObject;
} {
  const ms = opts.timeoutMs ?? DEFAULT_EXT_AUTHZ_TIMEOUT_MS;
  if (!Number.isInteger(ms) || ms <= 0) {
    throw new RangeError(`ext_authz timeout must be a positive number of ms, got ${ms}`);
  }
  if (opts.clusterName === '') throw new RangeError('ext_authz cluster name must not be empty');
  return {
    name: 'envoy.filters.http.ext_authz',
    typed_config: {
      '@type': EXT_AUTHZ_TYPE_URL,
      grpc_service: {
        envoy_grpc: { cluster_name: opts.clusterName },
        timeout: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 },
      },
      transport_api_version: 'V3',
      failure_mode_allow: false,
      status_on_error: { code: 'Forbidden' },
      encode_raw_headers: true,
      metadata_context_namespaces: [JWT_AUTHN_NAMESPACE],
      include_peer_certificate: false,
    },
  };
}

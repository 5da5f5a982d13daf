import type { ProtoObject } from '@parley/api';
import {
  type AuthzSnapshot,
  type PolicySet,
  authzSnapshot,
  buildPolicySet,
  compileEnforcement,
  extAuthzFilter,
  jwksClusters,
  jwtAuthnFilter,
} from '@parley/authz';
import {
  HTTP_FILTER_ORDER,
  type HttpFilter,
  type HttpFilterPiece,
  MESH_NAMES,
  type MeshConfig as MeshDocuments,
  type Service,
  controlPlaneCluster,
  serverTlsSocket,
} from '@parley/mesh';
import type { AuthzConfig } from './server-config.js';

/** The cluster through which sidecars reach the server's authz listener. */
export const AUTHZ_CLUSTER = 'parley_authz';

// One policy set per parsed config: the compiler's filter pieces and the decisions served for
// that commit share it (and so the evaluator's index, cached on it) instead of building it twice.
const policySets = new WeakMap<MeshDocuments, PolicySet>();

/** The authz snapshot of one commit of the mesh config. */
export function snapshotOf(commit: string, config: MeshDocuments): AuthzSnapshot {
  let policySet = policySets.get(config);
  if (policySet === undefined) {
    policySet = buildPolicySet(config.authorizationPolicies);
    policySets.set(config, policySet);
  }
  return authzSnapshot(
    commit,
    policySet,
    config.services.map((s) => ({
      service: s.metadata.name,
      spiffeId: s.spiffeId.toString(),
      ports: s.ports.map((p) => p.port),
      attributes: s.attributes,
    })),
  );
}

function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/**
 * The filter pieces enforcing a config's policies on every inbound listener: the JWT filter
 * (end-user tokens; an invalid one is answered 401), then Envoy's RBAC filters where they can
 * decide exactly as the evaluator would, else ext_authz (at the node's agent or at the server),
 * and the access logger that streams each request's outcome to the server's decision log.
 */
export function authzPieces(
  config: AuthzConfig,
  serverId: string,
  mesh: MeshDocuments,
  tokensIssuer?: string,
): HttpFilterPiece[] {
  const snapshot = snapshotOf('', mesh);
  const issuers = mesh.authorizationPolicies.flatMap((p) => p.jwtIssuers ?? []);
  const jwt = jwtAuthnFilter(issuers);
  const extAuthz = extAuthzFilter({
    clusterName: config.extAuthz === 'server' ? AUTHZ_CLUSTER : MESH_NAMES.sdsCluster,
  });
  const byService = new Map<string, readonly HttpFilter[]>();
  const enforcement = (service: Service): readonly HttpFilter[] => {
    const name = service.metadata.name;
    const known = byService.get(name);
    if (known !== undefined) return known;
    const e = compileEnforcement(snapshot.policySet, {
      service: name,
      spiffeId: service.spiffeId.toString(),
      ports: service.ports.map((p) => p.port),
    });
    const filters = e.mode === 'native' ? e.filters : [extAuthz];
    byService.set(name, filters);
    return filters;
  };
  const accessLog: ProtoObject = {
    name: 'envoy.access_loggers.http_grpc',
    typed_config: {
      '@type':
        'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig',
      common_config: {
        log_name: 'parley-decisions',
        grpc_service: { envoy_grpc: { cluster_name: AUTHZ_CLUSTER } },
        transport_api_version: 'V3',
        buffer_flush_interval: { seconds: 0, nanos: 200_000_000 },
      },
      additional_request_headers_to_log: [...snapshot.headerNames],
    },
  };
  return [
    {
      order: HTTP_FILTER_ORDER.jwtAuthn,
      filters: (ctx) => (ctx.side === 'inbound' && jwt !== undefined ? [jwt] : []),
      // Parley's own issuer serves its JWKS with the server's SVID: verified as the mesh does.
      clusters: jwksClusters(
        issuers,
        tokensIssuer === undefined
          ? {}
          : {
              own: {
                origin: new URL(tokensIssuer).origin,
                transportSocket: serverTlsSocket(serverId, new URL(tokensIssuer).hostname),
              },
            },
      ),
    },
    {
      order: HTTP_FILTER_ORDER.rbac,
      filters: (ctx) => (ctx.side === 'inbound' ? enforcement(ctx.service) : []),
      accessLogs: (ctx) => (ctx.side === 'inbound' ? [accessLog] : []),
      clusters: [controlPlaneCluster(AUTHZ_CLUSTER, hostPort(config.address), serverId)],
    },
  ];
}

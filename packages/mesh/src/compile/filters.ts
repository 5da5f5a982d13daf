import { createHash } from 'node:crypto';
import type { ProtoObject } from '@parley/api';
import type { Endpoint, Service } from '../model/mesh-config.js';
import { TYPE, sdsSecret, stringStruct } from './xds-resource.js';

/** Which listener of a sidecar an HTTP filter chain belongs to. */
export type ListenerSide = 'inbound' | 'outbound';

/** What a filter piece knows when it is asked for its config. */
export interface HttpFilterContext {
  readonly side: ListenerSide;
  /** The service whose sidecar this is. */
  readonly service: Service;
  /** The instance, when the proxy fronts one. */
  readonly endpoint?: Endpoint;
  /** Outbound: the SDS secrets of the token egress of the routes this proxy calls, sorted. */
  readonly egressSecrets?: readonly string[];
}

/** One entry of an HTTP connection manager's `http_filters`. */
export interface HttpFilter {
  readonly name: string;
  readonly typed_config: ProtoObject;
}

/**
 * A piece of the HTTP filter chain, contributed by a module (fault injection here; JWT, RBAC and
 * ext_authz from authorization): its position and the filters it puts on a listener (none to
 * stay off it) — the router always comes last — plus the access loggers it adds to a listener
 * and the clusters those filters and loggers call (given to every sidecar with an inbound
 * listener).
 */
export interface HttpFilterPiece {
  readonly order: number;
  readonly filters: (ctx: HttpFilterContext) => readonly HttpFilter[];
  readonly accessLogs?: (ctx: HttpFilterContext) => readonly ProtoObject[];
  readonly clusters?: readonly ProtoObject[];
}

/** Positions of the filters in the chain; later modules slot in between. */
export const HTTP_FILTER_ORDER = {
  fault: 100,
  jwtAuthn: 200,
  rbac: 300,
  extAuthz: 400,
  egress: 500,
} as const;

/** Fault injection on the caller's side; routes carry their faults as per-route config. */
export const FAULT_FILTER: HttpFilterPiece = {
  order: HTTP_FILTER_ORDER.fault,
  filters: (ctx) =>
    ctx.side === 'outbound'
      ? [{ name: 'envoy.filters.http.fault', typed_config: { '@type': TYPE.fault } }]
      : [],
};

/** The name of the credential injector that sends the SDS secret `secret` (route egress). */
export function egressFilterName(secret: string): string {
  return `parley.egress.${createHash('sha256').update(secret).digest('hex').slice(0, 16)}`;
}

/**
 * Token egress on the caller's side (docs/mesh-config.md, Route `egress`): one credential
 * injector per token the proxy's routes ask for, turned off by every virtual host that asks for
 * another (see `virtualHost`). Each takes `Bearer <token>` from the agent over SDS (a JWT-SVID or
 * an access token, `egressSecretName`) and sets it as `Authorization`, replacing the app's;
 * without the secret the request is refused (401), never sent with another host's token.
 */
export const EGRESS_FILTER: HttpFilterPiece = {
  order: HTTP_FILTER_ORDER.egress,
  filters: (ctx) =>
    ctx.side !== 'outbound'
      ? []
      : (ctx.egressSecrets ?? []).map((secret) => ({
          name: egressFilterName(secret),
          typed_config: {
            '@type': TYPE.credentialInjector,
            overwrite: true,
            allow_request_without_credential: false,
            credential: {
              name: 'envoy.http.injected_credentials.generic',
              typed_config: {
                '@type': TYPE.genericCredential,
                credential: sdsSecret(secret),
                header: 'Authorization',
              },
            },
          },
        })),
};

/** The filters every compiled mesh has. */
export const DEFAULT_HTTP_FILTERS: readonly HttpFilterPiece[] = [FAULT_FILTER, EGRESS_FILTER];

/** The HTTP filter chain of a listener: the pieces that apply, in order, then the router. */
export function httpFilters(
  ctx: HttpFilterContext,
  pieces: readonly HttpFilterPiece[],
): HttpFilter[] {
  // A stable sort: pieces of one order keep the order they were given in.
  const chain = [...pieces].sort((a, b) => a.order - b.order).flatMap((p) => p.filters(ctx));
  return [...chain, { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE.router } }];
}

/** The JSON access log fields (Envoy command operators) every listener writes to stdout. */
export const ACCESS_LOG_FIELDS: Readonly<Record<string, string>> = {
  start_time: '%START_TIME%',
  request_id: '%REQ(X-REQUEST-ID)%',
  traceparent: '%REQ(TRACEPARENT)%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  authority: '%REQ(:AUTHORITY)%',
  protocol: '%PROTOCOL%',
  downstream_peer_uri_san: '%DOWNSTREAM_PEER_URI_SAN%',
  upstream_peer_uri_san: '%UPSTREAM_PEER_URI_SAN%',
  route: '%ROUTE_NAME%',
  response_code: '%RESPONSE_CODE%',
  response_flags: '%RESPONSE_FLAGS%',
  duration_ms: '%DURATION%',
  upstream_host: '%UPSTREAM_HOST%',
  upstream_cluster: '%UPSTREAM_CLUSTER%',
};

/** Access log to stdout as one JSON object per request, tagged with the listener side. */
export function accessLog(
  ctx: HttpFilterContext,
  pieces: readonly HttpFilterPiece[],
): ProtoObject[] {
  const { side, service } = ctx;
  return [
    {
      name: 'envoy.access_loggers.stdout',
      typed_config: {
        '@type': TYPE.stdoutLog,
        log_format: {
          json_format: stringStruct({
            ...ACCESS_LOG_FIELDS,
            direction: side,
            service: service.metadata.name,
          }),
        },
      },
    },
    ...pieces.flatMap((p) => p.accessLogs?.(ctx) ?? []),
  ];
}

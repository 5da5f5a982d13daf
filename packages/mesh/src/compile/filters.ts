import type { ProtoObject } from '@parley/api';
import type { Endpoint, Service } from '../model/mesh-config.js';
import { TYPE, stringStruct } from './xds-resource.js';

/** Which listener of a sidecar an HTTP filter chain belongs to. */
export type ListenerSide = 'inbound' | 'outbound';

/** What a filter piece knows when it is asked for its config. */
export interface HttpFilterContext {
  readonly side: ListenerSide;
  /** The service whose sidecar this is. */
  readonly service: Service;
  /** The instance, when the proxy fronts one. */
  readonly endpoint?: Endpoint;
}

/**
 * One HTTP filter of the chain, contributed by a module (fault injection here; JWT, RBAC and
 * ext_authz later): its Envoy name, its position, and its `typed_config` for a listener, or
 * undefined to stay off that listener. The router always comes last.
 */
export interface HttpFilterPiece {
  readonly name: string;
  readonly order: number;
  readonly typedConfig: (ctx: HttpFilterContext) => ProtoObject | undefined;
}

/** Positions of the filters in the chain; later modules slot in between. */
export const HTTP_FILTER_ORDER = {
  fault: 100,
  jwtAuthn: 200,
  rbac: 300,
  extAuthz: 400,
} as const;

/** Fault injection on the caller's side; routes carry their faults as per-route config. */
export const FAULT_FILTER: HttpFilterPiece = {
  name: 'envoy.filters.http.fault',
  order: HTTP_FILTER_ORDER.fault,
  typedConfig: (ctx) => (ctx.side === 'outbound' ? { '@type': TYPE.fault } : undefined),
};

/** The filters every compiled mesh has. */
export const DEFAULT_HTTP_FILTERS: readonly HttpFilterPiece[] = [FAULT_FILTER];

/** The HTTP filter chain of a listener: the pieces that apply, in order, then the router. */
export function httpFilters(
  ctx: HttpFilterContext,
  pieces: readonly HttpFilterPiece[],
): ProtoObject[] {
  const chain = [...pieces]
    .sort((a, b) => a.order - b.order || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((p) => {
      const typed = p.typedConfig(ctx);
      return typed === undefined ? [] : [{ name: p.name, typed_config: typed }];
    });
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
export function accessLog(side: ListenerSide, service: Service): ProtoObject[] {
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
  ];
}

import type { ProtoObject } from '@parley/api';
import type { Endpoint, Service, TrafficPolicy } from '../model/mesh-config.js';
import { socketAddress } from './xds-resource.js';

/** The failover priority of an endpoint: the index of the first failover entry it matches. */
function rawPriority(e: Endpoint, policy: TrafficPolicy | undefined): number {
  const failover = policy?.loadBalancer.failover ?? [];
  const i = failover.findIndex(
    (f) => e.locality?.region === f.region && (f.zone === undefined || e.locality.zone === f.zone),
  );
  return i < 0 ? failover.length : i;
}

/**
 * The ClusterLoadAssignment of a service: its instances' sidecar inbound addresses, grouped by
 * locality and failover priority (priorities renumbered 0..n without gaps, as Envoy requires);
 * every group has a locality (empty when unknown) and a weight (the sum of its endpoints').
 */
export function clusterLoadAssignment(
  service: Service,
  endpoints: readonly Endpoint[],
  policy: TrafficPolicy | undefined,
): ProtoObject {
  const raw = endpoints.map((e) => rawPriority(e, policy));
  const used = [...new Set(raw)].sort((a, b) => a - b);
  const groups = new Map<
    string,
    { priority: number; locality?: Endpoint['locality']; endpoints: Endpoint[] }
  >();
  endpoints.forEach((e, i) => {
    const priority = used.indexOf(raw[i] ?? 0);
    const key = JSON.stringify([priority, e.locality?.region ?? '', e.locality?.zone ?? '']);
    let g = groups.get(key);
    if (g === undefined) {
      g = { priority, ...(e.locality !== undefined && { locality: e.locality }), endpoints: [] };
      groups.set(key, g);
    }
    g.endpoints.push(e);
  });
  return {
    cluster_name: service.metadata.name,
    endpoints: [...groups.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, g]) => ({
        // gRPC clients (gRFC A27) reject a group without a locality and skip one without a
        // weight; Envoy uses locality weights only when the cluster asks for them.
        locality:
          g.locality === undefined ? {} : { region: g.locality.region, zone: g.locality.zone },
        lb_endpoints: g.endpoints.map((e) => ({
          endpoint: { address: socketAddress(e.inbound), hostname: e.name },
          load_balancing_weight: { value: e.weight },
        })),
        load_balancing_weight: { value: g.endpoints.reduce((a, e) => a + e.weight, 0) },
        priority: g.priority,
      })),
  };
}

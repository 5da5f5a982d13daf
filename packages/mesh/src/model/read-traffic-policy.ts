import { type ConfigProblem, type ObjectReader, durationMs } from '@parley/core';
import type { LoadBalancerPolicy, Metadata, SourceRef, TrafficPolicy } from './mesh-config.js';
import { HEADER_NAME, SERVICE_NAME, patterned, readItems } from './read-common.js';

const POLICIES: readonly LoadBalancerPolicy[] = [
  'roundRobin',
  'leastRequest',
  'random',
  'ringHash',
];
const MAX_LIMIT = 1_000_000;

/** Reads the `spec` of a TrafficPolicy. */
export function readTrafficPolicy(
  spec: ObjectReader,
  metadata: Metadata,
  source: SourceRef,
  problems: ConfigProblem[],
): TrafficPolicy | undefined {
  const host = patterned(spec, 'host', SERVICE_NAME, 'a service name');
  const lb = spec.object('loadBalancer');
  const policy = lb?.oneOf('policy', POLICIES, 'roundRobin') ?? 'roundRobin';
  const rh = lb?.object('ringHash');
  let ringHash: TrafficPolicy['loadBalancer']['ringHash'];
  if (rh !== undefined) {
    if (policy !== 'ringHash') lb?.problem('ringHash', 'is only allowed with policy ringHash');
    const header = patterned(rh, 'header', HEADER_NAME, 'a lower-case HTTP header name');
    const minimumRingSize = rh.integer('minimumRingSize', 1024, 1, 8_388_608);
    if (header !== undefined) ringHash = { header, minimumRingSize };
  }
  const localityWeighted = lb?.boolean('localityWeighted', false) ?? false;
  const failover = lb
    ? readItems(lb, 'failover', problems, (f) => {
        const region = f.string('region');
        const zone = f.optionalString('zone');
        return region === undefined ? undefined : { region, ...(zone !== undefined && { zone }) };
      })
    : [];

  const cp = spec.object('connectionPool');
  let connectionPool: TrafficPolicy['connectionPool'];
  if (cp !== undefined) {
    const out: Record<string, number> = {};
    for (const key of ['maxConnections', 'maxPendingRequests', 'maxRequests', 'maxRetries']) {
      if (cp.has(key)) out[key] = cp.integer(key, 0, 0, MAX_LIMIT);
    }
    connectionPool = out;
  }

  const od = spec.object('outlierDetection');
  let outlierDetection: TrafficPolicy['outlierDetection'];
  if (od !== undefined) {
    outlierDetection = {
      consecutive5xx: od.integer('consecutive5xx', 5, 1, 1000),
      interval: od.duration('interval', durationMs(10_000)),
      baseEjectionTime: od.duration('baseEjectionTime', durationMs(30_000)),
      maxEjectionPercent: od.integer('maxEjectionPercent', 10, 0, 100),
    };
    if (outlierDetection.interval === 0) od.problem('interval', 'must be longer than 0');
  }
  if (host === undefined) return undefined;
  return {
    kind: 'TrafficPolicy',
    source,
    metadata,
    host,
    loadBalancer: {
      policy,
      ...(ringHash !== undefined && { ringHash }),
      localityWeighted,
      failover,
    },
    ...(connectionPool !== undefined && { connectionPool }),
    ...(outlierDetection !== undefined && { outlierDetection }),
  };
}

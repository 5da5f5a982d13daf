import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import {
  type DeltaDiscoveryRequest,
  type DiscoveryRequest,
  type NodeMessage,
  loadXdsServices,
} from '@parley/api';

/** The two ADS methods the relay carries: state of the world and delta. */
export type XdsRelayMethod = 'StreamAggregatedResources' | 'DeltaAggregatedResources';

/** The relay's methods, in the order they appear in the service. */
export const XDS_RELAY_METHODS: readonly XdsRelayMethod[] = [
  'StreamAggregatedResources',
  'DeltaAggregatedResources',
];

const identity = (value: Buffer): Buffer => {
  if (!Buffer.isBuffer(value)) throw new TypeError('the xDS relay passes messages as bytes');
  return value;
};

let definition: ServiceDefinition | undefined;

/**
 * `envoy.service.discovery.v3.AggregatedDiscoveryService` with a pass-through codec on both
 * sides: requests and responses are handed over as the bytes that came off the wire, so the
 * relay forwards them unchanged (and unknown fields survive). Serves as the agent's server
 * definition and as the upstream client's method paths.
 */
export function xdsRelayServiceDefinition(): ServiceDefinition {
  if (definition === undefined) {
    const base = loadXdsServices().AggregatedDiscoveryService.service;
    const methods: Record<string, MethodDefinition<Buffer, Buffer>> = {};
    for (const name of XDS_RELAY_METHODS) {
      const method = base[name];
      if (method === undefined) throw new TypeError(`ADS has no method ${name}`);
      methods[name] = {
        ...method,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      };
    }
    definition = methods;
  }
  return definition;
}

/**
 * The `node` of an encoded DiscoveryRequest or DeltaDiscoveryRequest (null when absent); throws
 * when the bytes are not a valid request.
 */
export function requestNode(method: XdsRelayMethod, bytes: Buffer): NodeMessage | null {
  const decode = loadXdsServices().AggregatedDiscoveryService.service[method]?.requestDeserialize;
  if (decode === undefined) throw new TypeError(`ADS has no method ${method}`);
  const request = decode(bytes) as DiscoveryRequest | DeltaDiscoveryRequest;
  return request.node;
}

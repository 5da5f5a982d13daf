import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadXdsServices } from '@parley/api';

let definition: ServiceDefinition | undefined;

/**
 * The `AggregatedDiscoveryService` definition to register `createAdsService` with: requests are
 * decoded by proto-loader as usual, responses are written pre-encoded (see discovery-encoding).
 */
export function adsServiceDefinition(): ServiceDefinition {
  if (definition === undefined) {
    const base = loadXdsServices().AggregatedDiscoveryService.service;
    const methods: Record<string, ServiceDefinition[string]> = {};
    for (const [name, method] of Object.entries(base)) {
      methods[name] = {
        ...method,
        responseSerialize: (value: unknown) => {
          if (!Buffer.isBuffer(value)) throw new TypeError('ADS responses are written pre-encoded');
          return value;
        },
      };
    }
    definition = methods;
  }
  return definition;
}

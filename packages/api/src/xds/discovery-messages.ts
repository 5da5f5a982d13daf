import type { EncodedAny } from './xds-protos.js';

/** `envoy.config.core.v3.Node` as proto-loader decodes it (only the fields Parley reads). */
export interface NodeMessage {
  id: string;
  cluster: string;
  metadata: { fields: Record<string, unknown> } | null;
  user_agent_name: string;
}

/** `google.rpc.Status` as carried in a NACK's `error_detail`. */
export interface StatusMessage {
  code: number;
  message: string;
}

/** `envoy.service.discovery.v3.DiscoveryRequest` (state of the world). */
export interface DiscoveryRequest {
  version_info: string;
  node: NodeMessage | null;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail: StatusMessage | null;
}

/** `envoy.service.discovery.v3.DiscoveryResponse` (state of the world). */
export interface DiscoveryResponse {
  version_info: string;
  resources: EncodedAny[];
  type_url: string;
  nonce: string;
}

/** `envoy.service.discovery.v3.DeltaDiscoveryRequest`. */
export interface DeltaDiscoveryRequest {
  node: NodeMessage | null;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail: StatusMessage | null;
}

/** `envoy.service.discovery.v3.Resource` inside a delta response. */
export interface DeltaResource {
  name: string;
  version: string;
  resource: EncodedAny;
}

/** `envoy.service.discovery.v3.DeltaDiscoveryResponse`. */
export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: DeltaResource[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
}

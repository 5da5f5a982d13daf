import { createHash } from 'node:crypto';
import { type ProtoObject, encodeAny } from '@parley/api';
import { MESH_NAMES, type XdsResource } from '../snapshot/mesh-snapshot.js';

/** Type URLs of the Envoy extension configs the compiler writes into `typed_config`. */
export const TYPE = {
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  fault: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  downstreamTls:
    'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  upstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  stdoutLog: 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
  httpProtocolOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  credentialInjector:
    'type.googleapis.com/envoy.extensions.filters.http.credential_injector.v3.CredentialInjector',
  genericCredential:
    'type.googleapis.com/envoy.extensions.http.injected_credentials.generic.v3.Generic',
  filterConfig: 'type.googleapis.com/envoy.config.route.v3.FilterConfig',
} as const;

/** Encodes a resource (schema-checked by `encodeAny`) with a version that hashes its bytes. */
export function xdsResource(typeUrl: string, name: string, object: ProtoObject): XdsResource {
  const resource = encodeAny(typeUrl, object);
  const version = createHash('sha256').update(resource.value).digest('base64url').slice(0, 12);
  return { name, version, resource };
}

/** A Duration message from milliseconds. */
export function duration(ms: number): ProtoObject {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/** A FractionalPercent from a percentage with at most 4 decimals. */
export function fractionalPercent(percent: number): ProtoObject {
  return Number.isInteger(percent)
    ? { numerator: percent, denominator: 'HUNDRED' }
    : { numerator: Math.round(percent * 10_000), denominator: 'MILLION' };
}

/** A socket address message. */
export function socketAddress(a: { host: string; port: number }): ProtoObject {
  return { socket_address: { address: a.host, port_value: a.port } };
}

/** The config source of resources delivered over the ADS stream. */
export const ADS_SOURCE: ProtoObject = { ads: {}, resource_api_version: 'V3' };

/** The config source of SDS secrets: the local agent, through the bootstrap's static cluster. */
export const SDS_SOURCE: ProtoObject = {
  api_config_source: {
    api_type: 'GRPC',
    transport_api_version: 'V3',
    grpc_services: [{ envoy_grpc: { cluster_name: MESH_NAMES.sdsCluster } }],
  },
  resource_api_version: 'V3',
};

/** An SDS secret reference by name. */
export function sdsSecret(name: string): ProtoObject {
  return { name, sds_config: SDS_SOURCE };
}

/** A `google.protobuf.Struct` of string values (protobufjs names Value's fields in camelCase). */
export function stringStruct(fields: Readonly<Record<string, string>>): ProtoObject {
  return {
    fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, { stringValue: v }])),
  };
}

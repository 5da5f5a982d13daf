import {
  type GrpcObject,
  type ServiceClientConstructor,
  loadPackageDefinition,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';

/** The metadata header every Workload API call must carry exactly once (SPIFFE Workload Endpoint §4). */
export const WORKLOAD_API_HEADER = 'workload.spiffe.io';

/** The proto file of the SPIFFE Workload API, shipped with this package. */
export const WORKLOAD_PROTO_PATH: string = join(
  import.meta.dirname,
  '..',
  '..',
  'proto',
  'workload.proto',
);

/** Wire shapes of the Workload API messages as proto-loader decodes them (bytes as Buffer). */
export interface X509SvidMessage {
  spiffe_id: string;
  x509_svid: Buffer;
  x509_svid_key: Buffer;
  bundle: Buffer;
  hint: string;
}
export interface X509SvidResponse {
  svids: X509SvidMessage[];
  crl: Buffer[];
  federated_bundles: Record<string, Buffer>;
}
export interface X509BundlesResponse {
  crl: Buffer[];
  bundles: Record<string, Buffer>;
}
export interface JwtSvidRequest {
  audience: string[];
  spiffe_id: string;
}
export interface JwtSvidMessage {
  spiffe_id: string;
  svid: string;
  hint: string;
}
export interface JwtSvidResponse {
  svids: JwtSvidMessage[];
}
export interface JwtBundlesResponse {
  bundles: Record<string, Buffer>;
}
export interface ValidateJwtSvidRequest {
  audience: string;
  svid: string;
}
export interface ValidateJwtSvidResponse {
  spiffe_id: string;
  claims: { fields: Record<string, unknown> } | null;
}

/** The loaded Workload API: its service definition for servers and a client constructor. */
export interface WorkloadApi {
  readonly SpiffeWorkloadAPI: ServiceClientConstructor;
}

let loaded: WorkloadApi | undefined;

/** Loads the Workload API proto once (longs as strings, bytes as Buffer, defaults filled). */
export function loadWorkloadApi(): WorkloadApi {
  if (loaded === undefined) {
    const definition = loadSync(WORKLOAD_PROTO_PATH, {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const grpcObject: GrpcObject = loadPackageDefinition(definition);
    loaded = { SpiffeWorkloadAPI: grpcObject['SpiffeWorkloadAPI'] as ServiceClientConstructor };
  }
  return loaded;
}

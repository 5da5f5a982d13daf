import {
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  type ClientReadableStream,
  type GrpcObject,
  type ServiceClientConstructor,
  type ServiceDefinition,
  loadPackageDefinition,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';

/** The proto file of Parley's policy distribution API, shipped with this package. */
export const AUTHZ_PROTO_PATH: string = join(
  import.meta.dirname,
  '..',
  '..',
  'proto',
  'authz.proto',
);

/** Largest `snapshot_json` a policy snapshot message carries, in bytes. */
export const MAX_POLICY_SNAPSHOT_BYTES = 16 * 1024 * 1024;

/**
 * Channel options a policy distribution client needs: grpc-js receives at most 4 MiB by default,
 * and a snapshot may be up to 16 MiB (plus the message's framing).
 */
export const POLICY_DISTRIBUTION_CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.max_receive_message_length': MAX_POLICY_SNAPSHOT_BYTES + 64 * 1024,
};

/** `WatchPoliciesRequest` as proto-loader decodes it (no fields). */
export type WatchPoliciesRequestMessage = Record<string, never>;

/** `PolicySnapshot` as proto-loader decodes it. */
export interface PolicySnapshotMessage {
  version: string;
  snapshot_json: string;
}

/** A client of `parley.authz.v1.PolicyDistribution`. */
export interface PolicyDistributionClient extends Client {
  WatchPolicies(
    request: WatchPoliciesRequestMessage,
    options?: CallOptions,
  ): ClientReadableStream<PolicySnapshotMessage>;
}

/** The constructor of policy distribution clients (grpc-js's generated client class, typed). */
export interface PolicyDistributionClientConstructor {
  new (
    address: string,
    credentials: ChannelCredentials,
    options?: Partial<ChannelOptions>,
  ): PolicyDistributionClient;
  readonly service: ServiceDefinition;
  readonly serviceName: string;
}

/** The policy distribution service definition and its client constructor. */
export interface PolicyDistributionApi {
  readonly service: ServiceDefinition;
  readonly Client: PolicyDistributionClientConstructor;
}

let loaded: PolicyDistributionApi | undefined;

/** Loads the policy distribution proto once: `parley.authz.v1.PolicyDistribution`. */
export function loadPolicyDistributionApi(): PolicyDistributionApi {
  if (loaded === undefined) {
    const definition = loadSync(AUTHZ_PROTO_PATH, {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const root = loadPackageDefinition(definition) as { parley: { authz: { v1: GrpcObject } } };
    const generated = root.parley.authz.v1['PolicyDistribution'] as ServiceClientConstructor;
    // The generated class has exactly the rpc methods of the proto, which the interface names.
    const Client = generated as unknown as PolicyDistributionClientConstructor;
    loaded = { service: generated.service, Client };
  }
  return loaded;
}

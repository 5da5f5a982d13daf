import {
  type GrpcObject,
  type ServiceClientConstructor,
  loadPackageDefinition,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';

/** The proto file of Parley's agent API, shipped with this package. */
export const AGENT_PROTO_PATH: string = join(
  import.meta.dirname,
  '..',
  '..',
  'proto',
  'agent.proto',
);

/** Wire shapes of the agent API messages as proto-loader decodes them (int64 as string). */
export interface AgentSelectorMessage {
  type: string;
  value: string;
}
export interface AgentEntryMessage {
  id: string;
  spiffe_id: string;
  parent_id: string;
  selectors: AgentSelectorMessage[];
  x509_svid_ttl: number;
  jwt_svid_ttl: number;
  dns_names: string[];
  federates_with: string[];
  hint: string;
  admin: boolean;
  downstream: boolean;
  expires_at: string;
  revision: string;
  created_at: string;
}
export interface AgentSvidMessage {
  spiffe_id: string;
  cert_chain: Buffer[];
  bundle: Buffer;
}
export interface AttestAgentRequestMessage {
  params?: { data: { type: string; payload: Buffer } | null; csr: Buffer } | null;
  challenge_response?: Buffer;
  step?: 'params' | 'challenge_response';
}
export interface AttestAgentResponseMessage {
  result?: AgentSvidMessage | null;
  challenge?: Buffer;
  step?: 'result' | 'challenge';
}
export interface SyncEntriesRequestMessage {
  known: { id: string; revision: string }[];
}
export interface SyncEntriesResponseMessage {
  changed: AgentEntryMessage[];
  removed: string[];
}
export interface BatchNewX509SvidRequestMessage {
  params: { entry_id: string; csr: Buffer }[];
}
export interface X509SvidResultMessage {
  status: { code: number; message: string } | null;
  entry_id: string;
  cert_chain: Buffer[];
  expires_at: string;
}
export interface BatchNewX509SvidResponseMessage {
  results: X509SvidResultMessage[];
}
export interface NewJwtSvidRequestMessage {
  entry_id: string;
  audience: string[];
}
export interface NewJwtSvidResponseMessage {
  token: string;
  expires_at: string;
  issued_at: string;
}
export interface GetBundlesResponseMessage {
  bundle: Buffer;
  federated: Record<string, Buffer>;
  tainted_x509_authorities: string[];
  tainted_jwt_keys: string[];
}

let loaded: ServiceClientConstructor | undefined;

/** Loads the agent API proto once: the `parley.agent.v1.AgentApi` service and client. */
export function loadAgentApi(): ServiceClientConstructor {
  if (loaded === undefined) {
    const definition = loadSync(AGENT_PROTO_PATH, {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const root = loadPackageDefinition(definition) as { parley: { agent: { v1: GrpcObject } } };
    loaded = root.parley.agent.v1['AgentApi'] as ServiceClientConstructor;
  }
  return loaded;
}

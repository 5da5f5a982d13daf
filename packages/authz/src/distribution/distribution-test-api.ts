// Test support: the policy distribution service definition and client, loaded from the proto that
// @parley/api ships. TODO(#6): use `loadPolicyDistributionApi()` from @parley/api once its index
// exports it.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ChannelCredentials,
  type GrpcObject,
  type ServiceClientConstructor,
  type ServiceDefinition,
  loadPackageDefinition,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { AuthzSnapshot } from '../model/authz-snapshot.js';
import type { PolicyWatchClient } from './watch-policies.js';

let loaded: ServiceClientConstructor | undefined;

function api(): ServiceClientConstructor {
  if (loaded === undefined) {
    const entry = fileURLToPath(import.meta.resolve('@parley/api'));
    const proto = join(dirname(entry), '..', 'proto', 'authz.proto');
    const definition = loadSync(proto, {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const root = loadPackageDefinition(definition) as { parley: { authz: { v1: GrpcObject } } };
    loaded = root.parley.authz.v1['PolicyDistribution'] as ServiceClientConstructor;
  }
  return loaded;
}

/** The `parley.authz.v1.PolicyDistribution` service definition. */
export function policyDistributionDefinition(): ServiceDefinition {
  return api().service;
}

/** A client of `address` that can also be closed. */
export function policyDistributionClient(
  address: string,
  creds: ChannelCredentials,
  options: Record<string, unknown> = {},
): PolicyWatchClient & { close(): void } {
  const Client = api();
  return new Client(address, creds, {
    'grpc.max_receive_message_length': 16 * 1024 * 1024 + 64 * 1024,
    ...options,
  }) as unknown as PolicyWatchClient & { close(): void };
}

/** A snapshot feed the test swaps by hand (the server's policy controller in production). */
export class TestFeed {
  #current: AuthzSnapshot | undefined;
  readonly #listeners = new Set<() => void>();

  constructor(initial?: AuthzSnapshot) {
    this.#current = initial;
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  current(): AuthzSnapshot | undefined {
    return this.#current;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  set(s: AuthzSnapshot): void {
    this.#current = s;
    for (const l of [...this.#listeners]) l();
  }
}

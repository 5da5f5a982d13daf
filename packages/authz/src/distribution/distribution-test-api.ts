// Test support: the policy distribution service and a client of it, from @parley/api's loader.
import type { ChannelCredentials, ServiceDefinition } from '@grpc/grpc-js';
import { POLICY_DISTRIBUTION_CHANNEL_OPTIONS, loadPolicyDistributionApi } from '@parley/api';
import type { AuthzSnapshot } from '../model/authz-snapshot.js';
import type { PolicyWatchClient } from './watch-policies.js';

/** The `parley.authz.v1.PolicyDistribution` service definition. */
export function policyDistributionDefinition(): ServiceDefinition {
  return loadPolicyDistributionApi().service;
}

/** A client of `address` that can also be closed. */
export function policyDistributionClient(
  address: string,
  creds: ChannelCredentials,
  options: Record<string, unknown> = {},
): PolicyWatchClient & { close(): void } {
  const { Client } = loadPolicyDistributionApi();
  return new Client(address, creds, { ...POLICY_DISTRIBUTION_CHANNEL_OPTIONS, ...options });
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

import { createPublicKey } from 'node:crypto';
import {
  type Bundle,
  type Certificate,
  type Clock,
  type X509Minter,
  JwtSvidMinter,
  ParleyError,
  type SpiffeId,
  generateKey,
  keyObjectSigner,
  parseDuration,
  parseSpiffeId,
  parseTrustDomain,
  systemClock,
} from '@parley/core';
import type {
  Selector,
  WorkloadIdentityCache,
  WorkloadJwtSvid,
  WorkloadView,
  WorkloadX509Svid,
} from './workload-api-deps.js';

/** The CA a fake cache mints with (`makeTestCa` from @parley/testing fits). */
export interface FakeCa {
  readonly minter: X509Minter;
  readonly root: Certificate;
}

/** A registration entry of the fake cache. */
export interface FakeEntryInput {
  readonly selectors: readonly Selector[];
  readonly spiffeId: string;
  readonly hint?: string;
  readonly federatesWith?: readonly string[];
}

interface FakeEntry {
  readonly selectors: readonly Selector[];
  readonly spiffeId: SpiffeId;
  readonly hint: string;
  readonly federatesWith: readonly string[];
  svid: WorkloadX509Svid;
}

/** The key ID of the fake cache's JWT signing key. */
export const FAKE_JWT_KEY_ID = 'fake-jwt-key';

/**
 * A test double of the agent's SVID cache (STYLE rule 11: a real implementation over a test CA,
 * not a mock): entries match callers whose selectors include all of theirs, SVIDs are minted on
 * registration and on `rotate`, JWT-SVIDs are minted on request, and every change notifies.
 * It counts view computations so tests can check the fan-out's cost.
 */
export class FakeIdentityCache implements WorkloadIdentityCache {
  /** How many times `viewFor` ran. */
  viewCalls = 0;
  /** How many JWT-SVIDs were minted. */
  jwtCalls = 0;
  readonly #listeners = new Set<() => void>();
  #entries: FakeEntry[] = [];
  readonly #federated = new Map<string, Bundle>();
  #bundle: Bundle;
  readonly #jwtMinter: JwtSvidMinter;

  constructor(
    private readonly ca: FakeCa,
    trustDomain = 'example.org',
    clock: Clock = systemClock,
  ) {
    const signer = keyObjectSigner(generateKey('ec-p256'));
    this.#jwtMinter = new JwtSvidMinter({ signer, keyId: FAKE_JWT_KEY_ID }, clock);
    this.#bundle = {
      trustDomain: parseTrustDomain(trustDomain),
      x509Authorities: [ca.root],
      jwtAuthorities: new Map([[FAKE_JWT_KEY_ID, signer.publicKey]]),
    };
  }

  /** The bundle of the cache's own trust domain. */
  get bundle(): Bundle {
    return this.#bundle;
  }

  /** How many listeners are subscribed. */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** Registers an entry and mints its SVID. */
  async addEntry(input: FakeEntryInput): Promise<void> {
    const spiffeId = parseSpiffeId(input.spiffeId);
    this.#entries.push({
      selectors: input.selectors,
      spiffeId,
      hint: input.hint ?? '',
      federatesWith: input.federatesWith ?? [],
      svid: await this.#mint(spiffeId, input.hint ?? ''),
    });
    this.notify();
  }

  /** Removes every entry of `spiffeId`. */
  removeEntry(spiffeId: string): void {
    this.#entries = this.#entries.filter((e) => e.spiffeId.toString() !== spiffeId);
    this.notify();
  }

  /** Mints new SVIDs for every entry of `spiffeId` (a rotation). */
  async rotate(spiffeId: string): Promise<void> {
    for (const entry of this.#entries) {
      if (entry.spiffeId.toString() === spiffeId)
        entry.svid = await this.#mint(entry.spiffeId, entry.hint);
    }
    this.notify();
  }

  /** Sets (or replaces) the bundle of a foreign trust domain. */
  setFederatedBundle(bundle: Bundle): void {
    this.#federated.set(bundle.trustDomain.name, bundle);
    this.notify();
  }

  /** Replaces the own trust domain's bundle. */
  setBundle(bundle: Bundle): void {
    this.#bundle = bundle;
    this.notify();
  }

  /** Notifies the listeners (also without a change, as a cache may). */
  notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  viewFor(selectors: readonly Selector[]): WorkloadView {
    this.viewCalls++;
    const entries = this.#matching(selectors);
    const federated = new Map<string, Bundle>();
    for (const entry of entries) {
      for (const td of entry.federatesWith) {
        const bundle = this.#federated.get(td);
        if (bundle !== undefined) federated.set(td, bundle);
      }
    }
    return {
      svids: entries.map((e) => e.svid),
      bundle: this.#bundle,
      federatedBundles: [...federated.values()],
    };
  }

  async fetchJwtSvid(
    selectors: readonly Selector[],
    spiffeId: SpiffeId,
    audience: readonly string[],
  ): Promise<WorkloadJwtSvid> {
    if (!this.#matching(selectors).some((e) => e.spiffeId.equals(spiffeId)))
      throw new ParleyError('permission-denied', `no identity issued for ${spiffeId.toString()}`);
    this.jwtCalls++;
    const minted = await this.#jwtMinter.mint({
      spiffeId,
      audience,
      ttl: parseDuration('5m'),
    });
    return { token: minted.token };
  }

  subscribe(listener: () => void): () => void {
    const wrapped = () => listener();
    this.#listeners.add(wrapped);
    return () => this.#listeners.delete(wrapped);
  }

  #matching(selectors: readonly Selector[]): FakeEntry[] {
    const have = new Set(selectors.map((s) => `${s.type}\n${s.value}`));
    return this.#entries.filter((e) => e.selectors.every((s) => have.has(`${s.type}\n${s.value}`)));
  }

  async #mint(spiffeId: SpiffeId, hint: string): Promise<WorkloadX509Svid> {
    const key = generateKey('ec-p256');
    const minted = await this.ca.minter.mintSvid({
      spiffeId,
      publicKey: createPublicKey(key),
      ttl: parseDuration('1h'),
    });
    return {
      spiffeId,
      certChain: [minted.der],
      privateKey: key.export({ type: 'pkcs8', format: 'der' }),
      hint,
    };
  }
}

import {
  type Bundle,
  type Clock,
  ParleyError,
  type SpiffeId,
  verifyJwtSvid,
  bundleSet,
} from '@parley/core';
import type {
  Selector,
  WorkloadIdentityCache,
  WorkloadJwtSvid,
  WorkloadView,
  WorkloadX509Svid,
} from '../workload-api/index.js';
import { type CachedEntry, entryMatches } from './cached-entry.js';

/** An X509-SVID held for an entry, with when to rotate it. */
export interface HeldX509Svid extends WorkloadX509Svid {
  readonly entryId: string;
  readonly entryRevision: number;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** Half of the lifetime, ±10% jitter (issue 3); 0 forces re-issue. */
  readonly rotateAt: number;
  /** The signing authority's key ID (the leaf's authority key identifier, lowercase hex). */
  readonly authorityId: string;
}

/** Mints JWT-SVIDs through the server (consumer-owned). */
export interface JwtSvidSource {
  newJwtSvid(
    entryId: string,
    audience: readonly string[],
  ): Promise<{ token: string; expiresAt: number; issuedAt: number }>;
}

interface HeldJwt {
  readonly token: string;
  readonly refreshAt: number;
}

/** Bounds the JWT cache; least recently minted tokens are dropped first. */
export const MAX_CACHED_JWT_SVIDS = 10_000;

/**
 * The agent's identity cache: the authorized entries, one X509-SVID per entry, the trust bundles,
 * and JWT-SVIDs cached per (entry, audience) until half of their lifetime. It implements what the
 * Workload API reads (`WorkloadIdentityCache`) and notifies subscribers on every change.
 */
export class SvidCache implements WorkloadIdentityCache {
  #entries = new Map<string, CachedEntry>();
  #svids = new Map<string, HeldX509Svid>();
  #bundle: Bundle;
  #federated = new Map<string, Bundle>();
  readonly #jwts = new Map<string, HeldJwt>();
  readonly #listeners = new Set<() => void>();

  constructor(
    bundle: Bundle,
    private readonly deps: { readonly clock: Clock; readonly jwtSource: JwtSvidSource },
  ) {
    this.#bundle = bundle;
  }

  /** The entries held, by id. */
  get entries(): ReadonlyMap<string, CachedEntry> {
    return this.#entries;
  }

  /** The X509-SVIDs held, by entry id. */
  get svids(): ReadonlyMap<string, HeldX509Svid> {
    return this.#svids;
  }

  /** The trust domain's bundle. */
  get bundle(): Bundle {
    return this.#bundle;
  }

  /** Applies a sync result: changed entries replace theirs, removed ones go with their SVIDs. */
  applyEntries(changed: readonly CachedEntry[], removed: readonly string[]): void {
    if (changed.length === 0 && removed.length === 0) return;
    const next = new Map(this.#entries);
    for (const e of changed) next.set(e.id, e);
    for (const id of removed) {
      next.delete(id);
      this.#svids.delete(id);
    }
    this.#entries = next;
    this.#notify();
  }

  /** Stores freshly minted SVIDs. */
  putSvids(svids: readonly HeldX509Svid[]): void {
    if (svids.length === 0) return;
    for (const s of svids) if (this.#entries.has(s.entryId)) this.#svids.set(s.entryId, s);
    this.#notify();
  }

  /** Replaces the bundles when their content changed; cached JWT-SVIDs are dropped. */
  setBundles(bundle: Bundle, federated: readonly Bundle[]): void {
    this.#bundle = bundle;
    this.#federated = new Map(federated.map((b) => [b.trustDomain.name, b]));
    this.#jwts.clear();
    this.#notify();
  }

  /**
   * Marks for re-issue every SVID signed by one of `authorityIds` (tainted authorities), and every
   * SVID whose authority left the bundle; returns how many were marked.
   */
  reissueSignedBy(authorityIds: ReadonlySet<string>): number {
    const inBundle = new Set(
      this.#bundle.x509Authorities.map((c) => Buffer.from(c.subjectKeyId ?? []).toString('hex')),
    );
    let marked = 0;
    for (const [id, svid] of this.#svids) {
      const gone =
        svid.certChain.length === 1 && svid.authorityId !== '' && !inBundle.has(svid.authorityId);
      if ((authorityIds.has(svid.authorityId) || gone) && svid.rotateAt !== 0) {
        this.#svids.set(id, { ...svid, rotateAt: 0 });
        marked++;
      }
    }
    return marked;
  }

  /** Drops every cached JWT-SVID (e.g. a JWT key was tainted). */
  clearJwtSvids(): void {
    this.#jwts.clear();
  }

  /** Entries that need an SVID now: none yet, a newer entry revision, or past rotation time. */
  entriesNeedingSvids(): CachedEntry[] {
    const now = this.deps.clock.now();
    return [...this.#entries.values()].filter((e) => {
      const held = this.#svids.get(e.id);
      return held === undefined || held.entryRevision !== e.revision || now >= held.rotateAt;
    });
  }

  viewFor(selectors: readonly Selector[]): WorkloadView {
    const set = new Set(selectors.map((s) => `${s.type}:${s.value}`));
    const svids: HeldX509Svid[] = [];
    const federated = new Map<string, Bundle>();
    for (const entry of this.#matching(set)) {
      const svid = this.#svids.get(entry.id);
      if (svid === undefined) continue;
      svids.push(svid);
      for (const td of entry.federatesWith) {
        const b = this.#federated.get(td.name);
        if (b !== undefined) federated.set(td.name, b);
      }
    }
    // The default identity first: the oldest entry, then by SPIFFE ID, so the order is stable.
    svids.sort((a, b) => {
      const ea = this.#entries.get(a.entryId);
      const eb = this.#entries.get(b.entryId);
      return (
        (ea?.createdAt ?? 0) - (eb?.createdAt ?? 0) ||
        a.spiffeId.toString().localeCompare(b.spiffeId.toString())
      );
    });
    return { svids, bundle: this.#bundle, federatedBundles: [...federated.values()] };
  }

  async fetchJwtSvid(
    selectors: readonly Selector[],
    spiffeId: SpiffeId,
    audience: readonly string[],
  ): Promise<WorkloadJwtSvid> {
    const set = new Set(selectors.map((s) => `${s.type}:${s.value}`));
    const entry = this.#matching(set).find((e) => e.spiffeId.equals(spiffeId));
    if (entry === undefined)
      throw new ParleyError('permission-denied', `no identity issued for ${spiffeId.toString()}`);
    const key = `${entry.id}\u0000${[...audience].sort().join('\u0000')}`;
    const now = this.deps.clock.now();
    const held = this.#jwts.get(key);
    if (held !== undefined && now < held.refreshAt) return { token: held.token };
    const minted = await this.deps.jwtSource.newJwtSvid(entry.id, audience);
    // Validate what the agent hands out: the token must verify against the bundle it serves.
    const check = verifyJwtSvid(minted.token, bundleSet(this.#bundle), audience, this.deps.clock);
    if (!check.ok)
      throw new ParleyError('unavailable', `server returned an invalid JWT-SVID: ${check.reason}`);
    if (this.#jwts.size >= MAX_CACHED_JWT_SVIDS) {
      const oldest = this.#jwts.keys().next().value;
      if (oldest !== undefined) this.#jwts.delete(oldest);
    }
    this.#jwts.delete(key);
    this.#jwts.set(key, {
      token: minted.token,
      refreshAt: minted.issuedAt + (minted.expiresAt - minted.issuedAt) / 2,
    });
    return { token: minted.token };
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #matching(selectors: ReadonlySet<string>): CachedEntry[] {
    return [...this.#entries.values()].filter((e) => entryMatches(e, selectors));
  }

  #notify(): void {
    for (const l of [...this.#listeners]) l();
  }
}

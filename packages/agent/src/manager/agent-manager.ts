import { createPublicKey, randomInt } from 'node:crypto';
import {
  BACKDATE_MS,
  type Bundle,
  type Clock,
  type Duration,
  ParleyError,
  type SpiffeId,
  type TrustDomain,
  bundleSet,
  generateKey,
  keyObjectSigner,
  mintCertificateRequest,
  parseBundle,
  parseCertificate,
  parseSpiffeId,
  parseTrustDomain,
  sleep,
  verifyX509Svid,
} from '@parley/core';
import { parseEntryMessage } from '../cache/cached-entry.js';
import { type HeldX509Svid, SvidCache } from '../cache/svid-cache.js';
import type { ChannelCredentials } from '@grpc/grpc-js';
import {
  type ServerEndpoint,
  ServerClient,
  channelCredentials,
} from '../server-client/server-client.js';
import { type AgentState, loadAgentState, saveAgentState } from './agent-state.js';

/** How the agent attests: the attestor name and its payload (and a challenge answerer). */
export interface NodeAttestationPlugin {
  readonly type: string;
  payload(): Promise<Uint8Array>;
  answer(challenge: Buffer): Promise<Uint8Array>;
}

/** CSRs per BatchNewX509SVID call (the server's cap is 500). */
export const BATCH_SIZE = 500;

/** The agent's settings (parsed from its config file by the composition root). */
export interface AgentManagerOptions {
  readonly trustDomain: TrustDomain;
  readonly serverAddress: string;
  readonly serverId: SpiffeId;
  /** CA certificates to trust the server with before the agent has a bundle (bootstrap). */
  readonly bootstrapRoots: readonly Uint8Array[];
  readonly dataDir: string;
  readonly attestation: NodeAttestationPlugin;
  readonly syncInterval: Duration;
  readonly clock: Clock;
  readonly log: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * When an SVID was really issued: Parley backdates NotBefore by BACKDATE_MS for clock skew, and
 * counting the lifetime from there would rotate short-lived SVIDs far too early.
 */
export function issuedAtOf(notBefore: number, notAfter: number): number {
  return Math.min(notBefore + BACKDATE_MS, notAfter);
}

/** When to rotate an SVID: at half its lifetime, ±10% jitter (issue 3). */
export function rotationTime(issuedAt: number, expiresAt: number): number {
  const half = (expiresAt - issuedAt) / 2;
  const jitter = half * 0.1;
  return issuedAt + half + (randomInt(0, 2001) / 1000 - 1) * jitter;
}

/**
 * The node agent's core loop: attests once (or reuses the saved agent SVID), then on every tick
 * renews its own SVID at half-life, refreshes bundles, syncs authorized entries, and mints
 * SVIDs for new, changed or half-expired entries with keys generated here. While the server is
 * unreachable the cache keeps serving what it holds.
 */
export class AgentManager {
  readonly cache: SvidCache;
  #state: AgentState;
  #client: ServerClient;
  #agentId: SpiffeId;
  #bundleJson: string;

  private constructor(
    private readonly options: AgentManagerOptions,
    state: AgentState,
  ) {
    this.#state = state;
    this.#bundleJson = state.bundleJson;
    const bundle = parseBundle(options.trustDomain, state.bundleJson);
    this.#agentId = AgentManager.#idOf(state);
    this.#client = this.#newClient(bundle);
    this.cache = new SvidCache(bundle, {
      clock: options.clock,
      jwtSource: { newJwtSvid: async (entryId, audience) => this.#jwt(entryId, audience) },
    });
  }

  /** The agent's SPIFFE ID. */
  get agentId(): SpiffeId {
    return this.#agentId;
  }

  /** Starts the agent: loads its saved identity if still valid, else attests. */
  static async start(options: AgentManagerOptions): Promise<AgentManager> {
    const saved = await loadAgentState(options.dataDir);
    if (saved !== undefined) {
      const bundle = parseBundle(options.trustDomain, saved.bundleJson);
      const check = verifyX509Svid(saved.certChain, bundleSet(bundle), options.clock);
      if (check.ok) return new AgentManager(options, saved);
      options.log('saved agent SVID is no longer valid; attesting again', { reason: check.reason });
    }
    const key = generateKey('ec-p256');
    const csr = await mintCertificateRequest(keyObjectSigner(key));
    const bootstrap = new ServerClient(
      AgentManager.#endpoint(options, options.bootstrapRoots),
      undefined,
    );
    try {
      const svid = await bootstrap.attest(
        { type: options.attestation.type, payload: await options.attestation.payload() },
        csr,
        (c) => options.attestation.answer(c),
      );
      const state: AgentState = {
        certChain: svid.cert_chain,
        key,
        bundleJson: svid.bundle.toString('utf8'),
      };
      await saveAgentState(options.dataDir, state);
      options.log('agent attested', { spiffeId: svid.spiffe_id });
      return new AgentManager(options, state);
    } finally {
      bootstrap.close();
    }
  }

  static #endpoint(options: AgentManagerOptions, roots: readonly Uint8Array[]): ServerEndpoint {
    return { address: options.serverAddress, serverId: options.serverId, roots };
  }

  static #idOf(state: AgentState): SpiffeId {
    const leaf = state.certChain[0];
    const uri = leaf === undefined ? undefined : parseCertificate(leaf).uris[0];
    if (uri === undefined) throw new ParleyError('internal', 'agent SVID has no SPIFFE ID');
    return parseSpiffeId(uri);
  }

  #newClient(bundle: Bundle): ServerClient {
    return new ServerClient(
      AgentManager.#endpoint(
        this.options,
        bundle.x509Authorities.map((c) => c.raw),
      ),
      {
        certChain: this.#state.certChain,
        privateKeyPkcs8: this.#state.key.export({ type: 'pkcs8', format: 'der' }),
      },
    );
  }

  /**
   * mTLS credentials for another listener of the server (e.g. its authz listener): the agent's
   * current SVID, accepting only the server's SPIFFE ID. Ask again after a rotation.
   */
  serverChannelCredentials(): ChannelCredentials {
    const bundle = parseBundle(this.options.trustDomain, this.#bundleJson);
    return channelCredentials(
      AgentManager.#endpoint(
        this.options,
        bundle.x509Authorities.map((c) => c.raw),
      ),
      {
        certChain: this.#state.certChain,
        privateKeyPkcs8: this.#state.key.export({ type: 'pkcs8', format: 'der' }),
      },
    );
  }

  async #jwt(entryId: string, audience: readonly string[]) {
    const r = await this.#client.jwtSvid(entryId, audience);
    return { token: r.token, expiresAt: Number(r.expires_at), issuedAt: Number(r.issued_at) };
  }

  /** One round of work; exported for tests. Returns whether anything changed. */
  async tick(): Promise<void> {
    // Bundles first: an agent SVID signed by a tainted authority is renewed in the same tick,
    // before an operator can revoke that authority and lock the agent out.
    await this.#refreshBundles();
    await this.#renewIfDue();
    const known = new Map([...this.cache.entries].map(([id, e]) => [id, e.revision]));
    const sync = await this.#client.sync(known);
    this.cache.applyEntries(sync.changed.map(parseEntryMessage), sync.removed);
    await this.#mintDue();
  }

  async #renewIfDue(): Promise<void> {
    const leaf = parseCertificate(this.#state.certChain[0] ?? new Uint8Array());
    const now = this.options.clock.now();
    const issuedAt = issuedAtOf(leaf.notBefore, leaf.notAfter);
    if (!this.#ownTainted && now < issuedAt + (leaf.notAfter - issuedAt) / 2) return;
    this.#ownTainted = false;
    const key = generateKey('ec-p256');
    const svid = await this.#client.renew(await mintCertificateRequest(keyObjectSigner(key)));
    this.#state = { certChain: svid.cert_chain, key, bundleJson: this.#bundleJson };
    await saveAgentState(this.options.dataDir, this.#state);
    this.#client.close();
    this.#client = this.#newClient(this.cache.bundle);
    this.options.log('agent SVID renewed', {});
  }

  async #refreshBundles(): Promise<void> {
    const r = await this.#client.bundles();
    const json = r.bundle.toString('utf8');
    const federatedJson = Object.entries(r.federated).map(
      ([td, b]) => [td, b.toString('utf8')] as const,
    );
    const tainted = new Set(r.tainted_x509_authorities);
    const signature =
      json +
      JSON.stringify(federatedJson) +
      JSON.stringify([r.tainted_x509_authorities, r.tainted_jwt_keys]);
    if (signature === this.#lastBundles) return;
    this.#lastBundles = signature;
    const bundle = parseBundle(this.options.trustDomain, json);
    const federated = federatedJson.map(([td, b]) => parseBundle(parseTrustDomain(td), b));
    this.cache.setBundles(bundle, federated);
    const marked = this.cache.reissueSignedBy(tainted);
    if (marked > 0)
      this.options.log('re-issuing SVIDs of tainted or removed authorities', { count: marked });
    const own = parseCertificate(this.#state.certChain[0] ?? new Uint8Array());
    this.#ownTainted = tainted.has(Buffer.from(own.authorityKeyId ?? []).toString('hex'));
    if (json !== this.#bundleJson) {
      this.#bundleJson = json;
      this.#state = { ...this.#state, bundleJson: json };
      await saveAgentState(this.options.dataDir, this.#state);
      this.#client.close();
      this.#client = this.#newClient(bundle);
    }
  }

  #lastBundles = '';
  #ownTainted = false;

  async #mintDue(): Promise<void> {
    const due = this.cache.entriesNeedingSvids();
    if (due.length === 0) return;
    const keys = new Map(due.map((e) => [e.id, generateKey('ec-p256')]));
    const requests = await Promise.all(
      due.map(async (e) => ({
        entryId: e.id,
        csr: await mintCertificateRequest(keyObjectSigner(keys.get(e.id)!)),
      })),
    );
    // The server signs at most MAX_BATCH_SVIDS per call.
    const outcomes = [];
    for (let i = 0; i < requests.length; i += BATCH_SIZE) {
      outcomes.push(...(await this.#client.batchX509Svids(requests.slice(i, i + BATCH_SIZE))));
    }
    const held: HeldX509Svid[] = [];
    for (const o of outcomes) {
      const entry = this.cache.entries.get(o.entryId);
      const key = keys.get(o.entryId);
      if (!o.ok || entry === undefined || key === undefined) {
        if (!o.ok)
          this.options.log('server refused an SVID', {
            entryId: o.entryId,
            code: o.code,
            message: o.message,
          });
        continue;
      }
      const leaf = parseCertificate(o.certChain[0] ?? new Uint8Array());
      // The key generated here must be the one certified.
      if (
        !createPublicKey(key).equals(
          createPublicKey({
            key: Buffer.from(leaf.subjectPublicKeyInfo),
            format: 'der',
            type: 'spki',
          }),
        )
      ) {
        this.options.log('server returned an SVID for another key', { entryId: o.entryId });
        continue;
      }
      held.push({
        entryId: o.entryId,
        entryRevision: entry.revision,
        spiffeId: entry.spiffeId,
        certChain: o.certChain,
        privateKey: key.export({ type: 'pkcs8', format: 'der' }),
        hint: entry.hint,
        issuedAt: issuedAtOf(leaf.notBefore, leaf.notAfter),
        expiresAt: leaf.notAfter,
        rotateAt: rotationTime(issuedAtOf(leaf.notBefore, leaf.notAfter), leaf.notAfter),
        authorityId: Buffer.from(leaf.authorityKeyId ?? []).toString('hex'),
      });
    }
    this.cache.putSvids(held);
  }

  /** Runs ticks until `signal` aborts; failures are logged and retried with backoff. */
  async run(signal: AbortSignal): Promise<void> {
    let backoff = 0;
    while (!signal.aborted) {
      try {
        await this.tick();
        backoff = 0;
      } catch (err) {
        backoff = Math.min(backoff === 0 ? 500 : backoff * 2, 30_000);
        this.options.log('agent sync failed; serving cached SVIDs', {
          error: (err as Error).message,
        });
      }
      try {
        await sleep(backoff || this.options.syncInterval, signal);
      } catch {
        break;
      }
    }
    this.#client.close();
  }
}

import {
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServiceError,
  type UntypedServiceImplementation,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import type {
  AgentEntryMessage,
  AgentSvidMessage,
  AttestAgentRequestMessage,
  AttestAgentResponseMessage,
  BatchNewX509SvidRequestMessage,
  BatchNewX509SvidResponseMessage,
  GetBundlesResponseMessage,
  NewJwtSvidRequestMessage,
  NewJwtSvidResponseMessage,
  SyncEntriesRequestMessage,
  SyncEntriesResponseMessage,
  X509SvidResultMessage,
} from '@parley/api';
import { GRPC_STATUS_BY_CODE } from '@parley/api';
import {
  type Bundle,
  type Clock,
  type Duration,
  ParleyError,
  type SpiffeId,
  type TrustDomain,
  bundleSet,
  durationMs,
  formatBundle,
  verifyCertificateRequest,
  verifyX509Svid,
} from '@parley/core';
import type { RegistrationEntry, Selector } from '../entries/registration-entry.js';
import type { NodeAttestor } from '../node-attestation/node-attestor.js';
import { MAX_ATTESTATION_PAYLOAD_BYTES } from '../node-attestation/node-attestor.js';
import { type EntryLookup, authorizedEntries } from './authorized-entries.js';

/** An attested agent as the server keeps it (consumer-owned view of the store's row). */
export interface AgentRecord {
  readonly spiffeId: SpiffeId;
  readonly attestationType: string;
  readonly selectors: readonly Selector[];
  /** Hex serial of the agent SVID the server last issued, and the one before renewal completes. */
  readonly certSerialNumber: string;
  readonly newCertSerialNumber: string | undefined;
  readonly banned: boolean;
}

/** What the agent API needs from its neighbours (STYLE rule 5: declared here, injected). */
export interface AgentApiDeps {
  readonly trustDomain: TrustDomain;
  /** The server's own SPIFFE ID (node aliases are entries parented to it). */
  readonly serverId: SpiffeId;
  readonly clock: Clock;
  readonly attestors: ReadonlyMap<string, NodeAttestor>;
  readonly agents: {
    getAgent(id: SpiffeId): Promise<AgentRecord | undefined>;
    /** Records a (re-)attested agent and the serial of the SVID issued to it. */
    saveAttestedAgent(
      agent: Omit<AgentRecord, 'newCertSerialNumber' | 'banned'>,
      notAfter: number,
    ): Promise<void>;
    /** Records the serial of a renewed agent SVID. */
    saveRenewedSerial(id: SpiffeId, serial: string, notAfter: number): Promise<void>;
  };
  readonly entries: EntryLookup;
  readonly ca: {
    mintX509Svid(req: {
      spiffeId: SpiffeId;
      publicKey: Uint8Array;
      ttl: Duration;
      dnsNames: readonly string[];
    }): Promise<{ certChain: readonly Uint8Array[]; serialNumber: string; expiresAt: number }>;
    mintJwtSvid(req: { spiffeId: SpiffeId; audience: readonly string[]; ttl: Duration }): Promise<{
      token: string;
      expiresAt: number;
      issuedAt: number;
    }>;
    /** The trust domain's current bundle. */
    bundle(): Bundle;
    /** Intermediates between SVIDs and the bundle's roots (upstream authority), for verification. */
    intermediates(): readonly Uint8Array[];
    /** Ids of tainted authorities: X.509 subject key IDs (hex) and JWT key IDs. */
    taintedAuthorityIds(kind: 'x509' | 'jwt'): readonly string[];
  };
  readonly federatedBundles: () => Promise<readonly Bundle[]>;
  readonly agentSvidTtl: Duration;
  readonly defaultX509SvidTtl: Duration;
  readonly defaultJwtSvidTtl: Duration;
}

/** Caps on one batch request. */
export const MAX_BATCH_SVIDS = 500;

/** How long an agent's authorized entries are reused (an entry change reaches it within this). */
export const ENTRY_CACHE_MS = 1000;
const MAX_CACHED_AGENTS = 10_000;

/** Maps any error to a gRPC error once: ParleyErrors keep their message, others become INTERNAL. */
export function toGrpcError(
  err: unknown,
  log: (message: string, cause: unknown) => void,
): Partial<ServiceError> {
  if (err instanceof ParleyError)
    return { code: GRPC_STATUS_BY_CODE[err.code], details: err.message };
  log('agent API internal error', err);
  return { code: status.INTERNAL, details: 'internal error' };
}

const AGENT_PATH = '/parley/agent/';

/** Entry → wire message. */
export function entryMessage(e: RegistrationEntry): AgentEntryMessage {
  return {
    id: e.id,
    spiffe_id: e.spiffeId.toString(),
    parent_id: e.parentId.toString(),
    selectors: e.selectors.map((s) => ({ type: s.type, value: s.value })),
    x509_svid_ttl: e.x509SvidTtl,
    jwt_svid_ttl: e.jwtSvidTtl,
    dns_names: [...e.dnsNames],
    federates_with: e.federatesWith.map((td) => td.name),
    hint: e.hint,
    admin: e.admin,
    downstream: e.downstream,
    expires_at: String(e.expiresAt ?? 0),
    revision: String(e.revision),
    created_at: String(e.createdAt),
  };
}

/**
 * The agent API (Parley's `parley.agent.v1.AgentApi`): node attestation, agent SVID renewal,
 * entry sync, batch X509-SVID signing and JWT-SVID minting. Every call but attestation is
 * authenticated by verifying the caller's TLS client certificate against the current bundle — per
 * call, so a rotated or revoked authority takes effect on open connections too — and the agent
 * must be known, not banned, and present its latest SVID. SPIFFE IDs come from authorized
 * entries, never from CSRs.
 */
export function createAgentApiService(
  deps: AgentApiDeps,
  log: (message: string, cause: unknown) => void = () => undefined,
): UntypedServiceImplementation {
  const fail = (err: unknown) => toGrpcError(err, log);

  async function authenticate(call: {
    getAuthContext(): { sslPeerCertificate?: { raw?: Buffer } };
  }): Promise<AgentRecord> {
    const raw = call.getAuthContext().sslPeerCertificate?.raw;
    if (raw === undefined) throw new ParleyError('unauthenticated', 'an agent SVID is required');
    const result = verifyX509Svid(
      [raw, ...deps.ca.intermediates()],
      bundleSet(deps.ca.bundle()),
      deps.clock,
    );
    if (!result.ok)
      throw new ParleyError('unauthenticated', `agent SVID rejected: ${result.reason}`);
    const id = result.svid.spiffeId;
    if (!id.memberOf(deps.trustDomain) || !id.path.startsWith(AGENT_PATH)) {
      throw new ParleyError('permission-denied', `${id.toString()} is not an agent identity`);
    }
    const agent = await deps.agents.getAgent(id);
    if (agent === undefined)
      throw new ParleyError(
        'permission-denied',
        `agent ${id.toString()} is not attested (evicted?)`,
      );
    if (agent.banned)
      throw new ParleyError('permission-denied', `agent ${id.toString()} is banned`);
    const serial = Buffer.from(result.svid.certificates[0]?.serialNumber ?? []).toString('hex');
    if (serial !== agent.certSerialNumber && serial !== agent.newCertSerialNumber) {
      throw new ParleyError(
        'permission-denied',
        `agent ${id.toString()} presented a superseded SVID`,
      );
    }
    return agent;
  }

  async function agentSvid(
    id: SpiffeId,
    csr: Uint8Array,
  ): Promise<{ message: AgentSvidMessage; serial: string; notAfter: number }> {
    const request = await verifyCertificateRequest(csr);
    const minted = await deps.ca.mintX509Svid({
      spiffeId: id,
      publicKey: request.subjectPublicKeyInfo,
      ttl: deps.agentSvidTtl,
      dnsNames: [],
    });
    return {
      message: {
        spiffe_id: id.toString(),
        cert_chain: minted.certChain.map((c) => Buffer.from(c)),
        bundle: Buffer.from(formatBundle(deps.ca.bundle())),
      },
      serial: minted.serialNumber,
      notAfter: minted.expiresAt,
    };
  }

  // Authorized entries per agent, reused for ENTRY_CACHE_MS (SPIRE refreshes its entry cache
  // every few seconds): a batch of CSRs costs one walk of the entry graph, not one per call.
  const entryCache = new Map<string, { at: number; entries: Promise<RegistrationEntry[]> }>();
  function entriesOf(agent: AgentRecord): Promise<RegistrationEntry[]> {
    const key = agent.spiffeId.toString();
    const now = deps.clock.now();
    const hit = entryCache.get(key);
    if (hit !== undefined && now - hit.at < ENTRY_CACHE_MS) return hit.entries;
    const entries = authorizedEntries(
      deps.entries,
      { id: agent.spiffeId, selectors: agent.selectors },
      deps.serverId,
      now,
    );
    entries.catch(() => entryCache.delete(key));
    if (entryCache.size >= MAX_CACHED_AGENTS)
      entryCache.delete(entryCache.keys().next().value ?? '');
    entryCache.set(key, { at: now, entries });
    return entries;
  }

  return {
    AttestAgent(call: ServerDuplexStream<AttestAgentRequestMessage, AttestAgentResponseMessage>) {
      let pendingChallenge: ((response: Uint8Array) => void) | undefined;
      let started = false;
      // grpc-js ends a server stream with a status when the call emits 'error'.
      const abort = (err: unknown) => {
        call.emit('error', fail(err));
      };
      call.on('data', (msg: AttestAgentRequestMessage) => {
        if (!started) {
          started = true;
          void attest(msg).catch(abort);
        } else if (msg.challenge_response !== undefined && pendingChallenge !== undefined) {
          const resolve = pendingChallenge;
          pendingChallenge = undefined;
          resolve(msg.challenge_response);
        } else {
          abort(new ParleyError('invalid-argument', 'unexpected attestation message'));
        }
      });

      async function attest(msg: AttestAgentRequestMessage): Promise<void> {
        const params = msg.params;
        const data = params?.data;
        if (params == null || data == null)
          throw new ParleyError('invalid-argument', 'attestation must start with params');
        if (data.payload.length > MAX_ATTESTATION_PAYLOAD_BYTES)
          throw new ParleyError('invalid-argument', 'attestation payload too large');
        const attestor = deps.attestors.get(data.type);
        if (attestor === undefined)
          throw new ParleyError(
            'invalid-argument',
            `unknown node attestor "${data.type.slice(0, 64)}"`,
          );
        const outcome = await attestor.attest(data.payload, (challenge) => {
          if (pendingChallenge !== undefined)
            return Promise.reject(new ParleyError('internal', 'challenge already pending'));
          const answered = new Promise<Uint8Array>((resolve) => (pendingChallenge = resolve));
          call.write({ challenge: Buffer.from(challenge) });
          return answered;
        });
        if (!outcome.ok)
          throw new ParleyError('permission-denied', `node attestation failed: ${outcome.reason}`);
        const existing = await deps.agents.getAgent(outcome.agentId);
        if (existing?.banned === true)
          throw new ParleyError(
            'permission-denied',
            `agent ${outcome.agentId.toString()} is banned`,
          );
        const svid = await agentSvid(outcome.agentId, params.csr);
        await deps.agents.saveAttestedAgent(
          {
            spiffeId: outcome.agentId,
            attestationType: data.type,
            selectors: outcome.selectors,
            certSerialNumber: svid.serial,
          },
          svid.notAfter,
        );
        call.write({ result: svid.message });
        call.end();
      }
    },

    RenewAgent(
      call: ServerUnaryCall<{ csr: Buffer }, { svid: AgentSvidMessage }>,
      callback: sendUnaryData<{ svid: AgentSvidMessage }>,
    ) {
      void (async () => {
        const agent = await authenticate(call);
        const svid = await agentSvid(agent.spiffeId, call.request.csr);
        await deps.agents.saveRenewedSerial(agent.spiffeId, svid.serial, svid.notAfter);
        return { svid: svid.message };
      })().then(
        (r) => callback(null, r),
        (e: unknown) => callback(fail(e)),
      );
    },

    SyncEntries(
      call: ServerUnaryCall<SyncEntriesRequestMessage, SyncEntriesResponseMessage>,
      callback: sendUnaryData<SyncEntriesResponseMessage>,
    ) {
      void (async () => {
        const agent = await authenticate(call);
        const known = new Map(call.request.known.map((k) => [k.id, k.revision]));
        const entries = await entriesOf(agent);
        const ids = new Set(entries.map((e) => e.id));
        return {
          changed: entries.filter((e) => known.get(e.id) !== String(e.revision)).map(entryMessage),
          removed: [...known.keys()].filter((id) => !ids.has(id)),
        };
      })().then(
        (r) => callback(null, r),
        (e: unknown) => callback(fail(e)),
      );
    },

    BatchNewX509SVID(
      call: ServerUnaryCall<BatchNewX509SvidRequestMessage, BatchNewX509SvidResponseMessage>,
      callback: sendUnaryData<BatchNewX509SvidResponseMessage>,
    ) {
      void (async () => {
        const agent = await authenticate(call);
        if (call.request.params.length > MAX_BATCH_SVIDS)
          throw new ParleyError('invalid-argument', `at most ${MAX_BATCH_SVIDS} SVIDs per batch`);
        const byId = new Map((await entriesOf(agent)).map((e) => [e.id, e]));
        const results = await Promise.all(
          call.request.params.map(async ({ entry_id, csr }): Promise<X509SvidResultMessage> => {
            const entry = byId.get(entry_id);
            try {
              if (entry === undefined)
                throw new ParleyError(
                  'permission-denied',
                  `entry ${entry_id.slice(0, 128)} is not authorized for this agent`,
                );
              const { subjectPublicKeyInfo } = await verifyCertificateRequest(csr);
              const ttl =
                entry.x509SvidTtl > 0
                  ? durationMs(entry.x509SvidTtl * 1000)
                  : deps.defaultX509SvidTtl;
              // The SPIFFE ID comes from the authorized entry, never from the CSR.
              const minted = await deps.ca.mintX509Svid({
                spiffeId: entry.spiffeId,
                publicKey: subjectPublicKeyInfo,
                ttl,
                dnsNames: entry.dnsNames,
              });
              return {
                status: { code: 0, message: '' },
                entry_id,
                cert_chain: minted.certChain.map((c) => Buffer.from(c)),
                expires_at: String(minted.expiresAt),
              };
            } catch (err) {
              const e = fail(err);
              return {
                status: { code: e.code ?? status.INTERNAL, message: e.details ?? '' },
                entry_id,
                cert_chain: [],
                expires_at: '0',
              };
            }
          }),
        );
        return { results };
      })().then(
        (r) => callback(null, r),
        (e: unknown) => callback(fail(e)),
      );
    },

    NewJWTSVID(
      call: ServerUnaryCall<NewJwtSvidRequestMessage, NewJwtSvidResponseMessage>,
      callback: sendUnaryData<NewJwtSvidResponseMessage>,
    ) {
      void (async () => {
        const agent = await authenticate(call);
        const entry = (await entriesOf(agent)).find((e) => e.id === call.request.entry_id);
        if (entry === undefined)
          throw new ParleyError('permission-denied', 'entry is not authorized for this agent');
        if (call.request.audience.length === 0)
          throw new ParleyError('invalid-argument', 'a JWT-SVID needs an audience');
        const ttl =
          entry.jwtSvidTtl > 0 ? durationMs(entry.jwtSvidTtl * 1000) : deps.defaultJwtSvidTtl;
        const minted = await deps.ca.mintJwtSvid({
          spiffeId: entry.spiffeId,
          audience: call.request.audience,
          ttl,
        });
        return {
          token: minted.token,
          expires_at: String(minted.expiresAt),
          issued_at: String(minted.issuedAt),
        };
      })().then(
        (r) => callback(null, r),
        (e: unknown) => callback(fail(e)),
      );
    },

    GetBundles(
      call: ServerUnaryCall<unknown, GetBundlesResponseMessage>,
      callback: sendUnaryData<GetBundlesResponseMessage>,
    ) {
      void (async () => {
        await authenticate(call);
        const federated: Record<string, Buffer> = {};
        for (const b of await deps.federatedBundles())
          federated[b.trustDomain.name] = Buffer.from(formatBundle(b));
        return {
          bundle: Buffer.from(formatBundle(deps.ca.bundle())),
          federated,
          tainted_x509_authorities: [...deps.ca.taintedAuthorityIds('x509')],
          tainted_jwt_keys: [...deps.ca.taintedAuthorityIds('jwt')],
        };
      })().then(
        (r) => callback(null, r),
        (e: unknown) => callback(fail(e)),
      );
    },
  };
}

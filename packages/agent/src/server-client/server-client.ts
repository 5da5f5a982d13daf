import { type Client, type ServiceError, credentials, status } from '@grpc/grpc-js';
import {
  type AgentEntryMessage,
  type AgentSvidMessage,
  type BatchNewX509SvidResponseMessage,
  type GetBundlesResponseMessage,
  type NewJwtSvidResponseMessage,
  type SyncEntriesResponseMessage,
  loadAgentApi,
} from '@parley/api';
import { ParleyError, type SpiffeId, encodePem, systemClock } from '@parley/core';

/** How the agent reaches the server: address, the server's SPIFFE ID and the trust roots. */
export interface ServerEndpoint {
  /** `host:port` of the server's agent API. */
  readonly address: string;
  /** The identity the server must present (checked instead of a host name). */
  readonly serverId: SpiffeId;
  /** DER CA certificates the server's certificate must chain to (the bundle, or a bootstrap). */
  readonly roots: readonly Uint8Array[];
}

/** The agent's own credentials for mTLS: certificate chain (DER, leaf first) and PKCS#8 key. */
export interface AgentCredentials {
  readonly certChain: readonly Uint8Array[];
  readonly privateKeyPkcs8: Uint8Array;
}

/** The answer to one CSR of a batch. */
export type X509SvidOutcome =
  | {
      readonly ok: true;
      readonly entryId: string;
      readonly certChain: Buffer[];
      readonly expiresAt: number;
    }
  | {
      readonly ok: false;
      readonly entryId: string;
      readonly code: number;
      readonly message: string;
    };

const AgentApi = loadAgentApi();

/** mTLS channel credentials that present the agent's SVID and accept only the server's ID. */
export function channelCredentials(endpoint: ServerEndpoint, agent: AgentCredentials | undefined) {
  const roots = Buffer.from(endpoint.roots.map((c) => encodePem('CERTIFICATE', c)).join(''));
  const expected = `URI:${endpoint.serverId.toString()}`;
  const checkServerIdentity = (_host: string, cert: { subjectaltname?: string }) =>
    cert.subjectaltname?.split(', ').includes(expected) === true
      ? undefined
      : new Error(`server did not present ${endpoint.serverId.toString()}`);
  return agent === undefined
    ? credentials.createSsl(roots, null, null, { checkServerIdentity })
    : credentials.createSsl(
        roots,
        Buffer.from(encodePem('PRIVATE KEY', agent.privateKeyPkcs8)),
        Buffer.from(agent.certChain.map((c) => encodePem('CERTIFICATE', c)).join('')),
        { checkServerIdentity },
      );
}

function fromGrpc(err: ServiceError): ParleyError {
  // The agent acts on PERMISSION_DENIED and UNAUTHENTICATED (re-attest); the rest is retried.
  const code =
    err.code === status.PERMISSION_DENIED
      ? 'permission-denied'
      : err.code === status.UNAUTHENTICATED
        ? 'unauthenticated'
        : 'unavailable';
  return new ParleyError(code, `server: ${err.details || err.message}`, { cause: err });
}

type Unary = (
  req: unknown,
  options: { deadline: number },
  cb: (err: ServiceError | null, res: unknown) => void,
) => void;

/** Parley's agent API as the agent calls it. One instance per set of credentials. */
export class ServerClient {
  readonly #client: Client;

  constructor(
    endpoint: ServerEndpoint,
    agent: AgentCredentials | undefined,
    private readonly timeoutMs = 10_000,
  ) {
    // The server is identified by its SPIFFE ID, not a host name; a fixed TLS server name also
    // keeps Node from sending an IP address as SNI (RFC 6066 forbids it).
    this.#client = new AgentApi(endpoint.address, channelCredentials(endpoint, agent), {
      'grpc.ssl_target_name_override': 'parley-server',
    });
  }

  #unary<T>(method: string, request: unknown): Promise<T> {
    const fn = (this.#client as unknown as Record<string, Unary>)[method];
    if (fn === undefined) throw new TypeError(`no method ${method}`);
    return new Promise((resolve, reject) =>
      fn.call(
        this.#client,
        request,
        { deadline: systemClock.now() + this.timeoutMs },
        (err, res) => (err ? reject(fromGrpc(err)) : resolve(res as T)),
      ),
    );
  }

  /**
   * Attests the node: sends the attestation data and a CSR, answers challenges with `answer`,
   * and resolves with the agent's SVID.
   */
  attest(
    data: { readonly type: string; readonly payload: Uint8Array },
    csr: Uint8Array,
    answer: (challenge: Buffer) => Promise<Uint8Array>,
  ): Promise<AgentSvidMessage> {
    return new Promise((resolve, reject) => {
      const call = (
        this.#client as unknown as {
          AttestAgent(o: {
            deadline: number;
          }): NodeJS.ReadWriteStream & { write(m: unknown): boolean };
        }
      ).AttestAgent({
        deadline: systemClock.now() + this.timeoutMs,
      });
      call.on('data', (m: { result?: AgentSvidMessage | null; challenge?: Buffer }) => {
        if (m.result != null) resolve(m.result);
        else if (m.challenge !== undefined && m.challenge.length > 0) {
          answer(m.challenge).then(
            (r) => call.write({ challenge_response: Buffer.from(r) }),
            (e: unknown) => reject(e instanceof Error ? e : new Error(String(e))),
          );
        }
      });
      call.on('error', (e: ServiceError) => reject(fromGrpc(e)));
      call.on('end', () =>
        reject(new ParleyError('unavailable', 'attestation ended without an SVID')),
      );
      call.write({
        params: {
          data: { type: data.type, payload: Buffer.from(data.payload) },
          csr: Buffer.from(csr),
        },
      });
    });
  }

  /** Renews the agent's own SVID. */
  async renew(csr: Uint8Array): Promise<AgentSvidMessage> {
    const res = await this.#unary<{ svid: AgentSvidMessage | null }>('RenewAgent', {
      csr: Buffer.from(csr),
    });
    if (res.svid == null) throw new ParleyError('unavailable', 'server returned no SVID');
    return res.svid;
  }

  /** The authorized entries that changed since `known`, and the ids to drop. */
  sync(known: ReadonlyMap<string, number>): Promise<SyncEntriesResponseMessage> {
    return this.#unary('SyncEntries', {
      known: [...known].map(([id, revision]) => ({ id, revision: String(revision) })),
    });
  }

  /** Signs CSRs for entries; each outcome stands alone. */
  async batchX509Svids(
    requests: readonly { entryId: string; csr: Uint8Array }[],
  ): Promise<X509SvidOutcome[]> {
    const res = await this.#unary<BatchNewX509SvidResponseMessage>('BatchNewX509SVID', {
      params: requests.map((r) => ({ entry_id: r.entryId, csr: Buffer.from(r.csr) })),
    });
    return res.results.map((r) =>
      (r.status?.code ?? 13) === 0
        ? {
            ok: true as const,
            entryId: r.entry_id,
            certChain: r.cert_chain,
            expiresAt: Number(r.expires_at),
          }
        : {
            ok: false as const,
            entryId: r.entry_id,
            code: r.status?.code ?? 13,
            message: r.status?.message ?? '',
          },
    );
  }

  /** Mints a JWT-SVID for an entry. */
  jwtSvid(entryId: string, audience: readonly string[]): Promise<NewJwtSvidResponseMessage> {
    return this.#unary('NewJWTSVID', { entry_id: entryId, audience: [...audience] });
  }

  /** The trust domain bundle and federated bundles (SPIFFE bundle JSON). */
  bundles(): Promise<GetBundlesResponseMessage> {
    return this.#unary('GetBundles', {});
  }

  close(): void {
    this.#client.close();
  }
}

export type { AgentEntryMessage };

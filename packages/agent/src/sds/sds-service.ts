import type {
  ServerDuplexStream,
  ServerUnaryCall,
  StatusObject,
  UntypedServiceImplementation,
  handleBidiStreamingCall,
  handleUnaryCall,
} from '@grpc/grpc-js';
import {
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
  XDS_TYPE_URL,
  jwtSvidSecretAudience,
  oauthTokenSecretRequest,
} from '@parley/api';
import { type Clock, ParleyError, invalidArgument, systemClock } from '@parley/core';
import { toGrpcStatus } from '../workload-api/grpc-status.js';
import { type ViewOutcome, ViewFanOut } from '../workload-api/view-fan-out.js';
import type {
  CallerResult,
  Selector,
  WorkloadApiLog,
  WorkloadIdentityCache,
  WorkloadView,
} from '../workload-api/workload-api-deps.js';
import { NO_IDENTITY } from '../workload-api/workload-responses.js';
import type { OAuthTokenClient } from './oauth-token-client.js';
import { TokenSecrets, isTokenSecretName, tokenSecret } from './token-secrets.js';
import { type SdsSecret, secretsFor, secretsVersion } from './sds-secrets.js';

/** An SDS call as grpc-js hands it to a handler (the stream or the unary fetch). */
export type SdsCall =
  | ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>
  | ServerUnaryCall<DiscoveryRequest, DiscoveryResponse>;

/** The neighbours of the SDS service, wired by the agent's composition root. */
export interface SdsDeps {
  /** Attests the caller of `call` exactly as for the Workload API (no security header: Envoy sends none). */
  identify(call: SdsCall): Promise<CallerResult>;
  /** The agent's SVID cache, read through the same view as the Workload API. */
  readonly cache: WorkloadIdentityCache;
  readonly log: WorkloadApiLog;
  /** For the lifetimes of token secrets (default: the system clock). */
  readonly clock?: Clock;
  /** Where `parley:oauth:…` secrets come from; without it they are not served. */
  readonly oauth?: OAuthTokenClient | undefined;
}

/** The SDS handlers, for `server.addService(loadXdsServices().SecretDiscoveryService.service, …)`. */
export interface SdsService extends UntypedServiceImplementation {
  StreamSecrets: handleBidiStreamingCall<DiscoveryRequest, DiscoveryResponse>;
  FetchSecrets: handleUnaryCall<DiscoveryRequest, DiscoveryResponse>;
  DeltaSecrets: handleBidiStreamingCall<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
}

/** Bounds on what one request may ask for (Envoy asks for one or two names per stream). */
const MAX_RESOURCE_NAMES = 256;
const MAX_RESOURCE_NAME_LENGTH = 2048;

/** Why a request cannot be served at all, or undefined. */
function requestProblem(request: DiscoveryRequest): string | undefined {
  if (request.type_url !== '' && request.type_url !== XDS_TYPE_URL.secret)
    return `type_url must be ${XDS_TYPE_URL.secret}, got ${request.type_url.slice(0, 200)}`;
  if (request.resource_names.length > MAX_RESOURCE_NAMES)
    return `at most ${MAX_RESOURCE_NAMES} resource names may be requested`;
  if (request.resource_names.some((n) => n.length > MAX_RESOURCE_NAME_LENGTH))
    return `a resource name exceeds ${MAX_RESOURCE_NAME_LENGTH} characters`;
  return undefined;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((n) => sb.has(n));
}

function response(
  secrets: readonly SdsSecret[],
  version: string,
  nonce: string,
): DiscoveryResponse {
  return {
    version_info: version,
    resources: secrets.map((s) => s.resource),
    type_url: XDS_TYPE_URL.secret,
    nonce,
  };
}

function endCall(call: ServerDuplexStream<unknown, unknown>, status: StatusObject): void {
  if (call.destroyed || call.writableEnded) return;
  // grpc-js ends a server stream with the status of an 'error' event.
  call.emit('error', status);
}

/**
 * One SotW SDS stream (xDS protocol, "ACK/NACK and resource type instance version"): a response
 * carries every requested Secret the caller is entitled to; its version is a digest of their
 * public content and its nonce a per-stream counter. A request whose nonce is not the last one
 * sent is stale and ignored. A NACK (error_detail) is logged and nothing is resent until the
 * content changes. The first request and every change of the name set are answered at once;
 * a cache change is pushed when it changes the version. An empty response is never sent (Envoy
 * rejects it): names not available yet are simply answered when they become available.
 */
class SdsStream {
  #names: readonly string[] | undefined;
  #view: WorkloadView | undefined;
  #nonce = 0;
  #lastNonce = '';
  #lastVersion = '';
  readonly #tokens: TokenSecrets;

  constructor(
    private readonly call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>,
    private readonly log: WorkloadApiLog,
    fetchToken: (view: WorkloadView, name: string) => Promise<string>,
    clock: Clock,
  ) {
    this.#tokens = new TokenSecrets({
      fetch: async (name) => {
        if (this.#view === undefined) throw new ParleyError('unavailable', NO_IDENTITY);
        return fetchToken(this.#view, name);
      },
      onChange: () => this.#send(false),
      clock,
      log,
    });
  }

  close(): void {
    this.#tokens.close();
  }

  onView(outcome: ViewOutcome): void {
    // An unavailable view (no sync yet) serves nothing; the stream waits for the next view.
    this.#view = outcome.ok ? outcome.view : undefined;
    if (this.#names !== undefined) this.#send(false);
  }

  onRequest(request: DiscoveryRequest): void {
    const problem = requestProblem(request);
    if (problem !== undefined) throw invalidArgument(problem);
    if (this.#lastNonce !== '' && request.response_nonce !== this.#lastNonce) return;
    if (request.error_detail !== null && request.response_nonce !== '') {
      this.log.warn('sds: client rejected secrets', {
        version: this.#lastVersion,
        rejectedNonce: request.response_nonce,
        names: request.resource_names.slice(0, 16),
        code: request.error_detail.code,
        detail: request.error_detail.message.slice(0, 1024),
      });
    }
    const first = this.#names === undefined;
    const changed = first || !sameNames(this.#names ?? [], request.resource_names);
    this.#names = [...request.resource_names];
    if (changed) {
      this.#tokens.want(this.#names);
      this.#send(true);
    }
  }

  #send(force: boolean): void {
    if (this.#view === undefined || this.#names === undefined) return;
    const secrets = [...secretsFor(this.#view, this.#names), ...this.#tokens.secrets()];
    if (secrets.length === 0) return;
    const version = secretsVersion(secrets);
    if (!force && version === this.#lastVersion) return;
    if (this.call.destroyed || this.call.writableEnded) return;
    this.#lastVersion = version;
    this.#lastNonce = String(++this.#nonce);
    this.call.write(response(secrets, version, this.#lastNonce));
  }
}

/**
 * Creates Envoy's Secret Discovery Service over the agent's SVID cache (DESIGN §3, SDS row):
 * resource names are a SPIFFE ID (that identity's certificate, when the caller is entitled to
 * it), `default`, `ROOTCA`, `ALL` and `spiffe://<trust domain>` (validation contexts for
 * Envoy's SPIFFE certificate validator). Callers are attested by `deps.identify` as Workload API
 * clients are; updates follow every rotation and bundle change through the same view fan-out.
 * DeltaSecrets answers Unimplemented.
 */
export function createSdsService(deps: SdsDeps): SdsService {
  const { log } = deps;
  const clock = deps.clock ?? systemClock;

  /** The token a token secret name stands for, for the caller's default identity. */
  async function fetchToken(
    selectors: readonly Selector[],
    view: WorkloadView,
    name: string,
  ): Promise<string> {
    const svid = view.svids[0];
    if (svid === undefined) throw new ParleyError('permission-denied', NO_IDENTITY);
    const audience = jwtSvidSecretAudience(name);
    if (audience !== undefined) {
      return (await deps.cache.fetchJwtSvid(selectors, svid.spiffeId, [audience])).token;
    }
    const oauth = oauthTokenSecretRequest(name);
    if (oauth === undefined) throw invalidArgument('not a token secret name');
    if (deps.oauth === undefined) {
      throw new ParleyError('failed-precondition', 'the agent has no tokenEndpoint configured');
    }
    return deps.oauth.token(svid, view.bundle, oauth.audience, oauth.scopes);
  }
  const fanOut = new ViewFanOut(deps.cache, log);

  async function identify(call: SdsCall, method: string): Promise<readonly Selector[]> {
    const caller = await deps.identify(call);
    if (caller.ok) return caller.selectors;
    log.warn('sds: workload attestation failed', { method, reason: caller.reason });
    throw new ParleyError('unavailable', 'workload attestation failed');
  }

  return {
    StreamSecrets: (call) => {
      const pending: DiscoveryRequest[] = [];
      let stream: SdsStream | undefined;
      let leave: (() => void) | undefined;
      let closed = false;
      const fail = (err: unknown): void => {
        endCall(call, toGrpcStatus(err, log, 'StreamSecrets'));
      };
      const handle = (request: DiscoveryRequest): void => {
        try {
          stream?.onRequest(request);
        } catch (err) {
          fail(err);
        }
      };
      const close = (): void => {
        closed = true;
        leave?.();
        leave = undefined;
      };
      call.on('data', (request: DiscoveryRequest) => {
        if (stream === undefined) pending.push(request);
        else handle(request);
      });
      call.on('end', () => {
        if (!call.writableEnded) call.end();
      });
      call.on('error', () => undefined);
      call.once('cancelled', close);
      call.once('close', close);
      identify(call, 'StreamSecrets').then(
        (selectors) => {
          if (closed || call.cancelled || call.destroyed) return;
          const opened = new SdsStream(
            call,
            log,
            (view, name) => fetchToken(selectors, view, name),
            clock,
          );
          const unwatch = fanOut.watch(selectors, (outcome) => opened.onView(outcome));
          leave = () => {
            unwatch();
            opened.close();
          };
          stream = opened;
          for (const request of pending.splice(0)) handle(request);
        },
        (err: unknown) => fail(err),
      );
    },

    FetchSecrets: (call, callback) => {
      const fetch = async (): Promise<DiscoveryResponse> => {
        const request = call.request;
        const problem = requestProblem(request);
        if (problem !== undefined) throw invalidArgument(problem);
        const selectors = await identify(call, 'FetchSecrets');
        const view = fanOut.viewFor(selectors);
        if (view.svids.length === 0) throw new ParleyError('permission-denied', NO_IDENTITY);
        const tokens = await Promise.all(
          [...new Set(request.resource_names)]
            .filter(isTokenSecretName)
            .map(async (name) => tokenSecret(name, await fetchToken(selectors, view, name))),
        );
        const secrets = [...secretsFor(view, request.resource_names), ...tokens];
        if (secrets.length === 0)
          throw new ParleyError('not-found', 'none of the requested secrets is available');
        return response(secrets, secretsVersion(secrets), '');
      };
      fetch().then(
        (r) => callback(null, r),
        (err: unknown) => callback(toGrpcStatus(err, log, 'FetchSecrets')),
      );
    },

    DeltaSecrets: (call) => {
      call.on('error', () => undefined);
      endCall(
        call,
        toGrpcStatus(
          new ParleyError('unimplemented', 'DeltaSecrets is not supported; use StreamSecrets'),
          log,
          'DeltaSecrets',
        ),
      );
    },
  };
}

import {
  type ClientDuplexStream,
  Metadata,
  type ServerDuplexStream,
  type ServiceError,
  type StatusObject,
  type UntypedServiceImplementation,
  type handleBidiStreamingCall,
  status,
} from '@grpc/grpc-js';
import { type Bundle, ParleyError, invalidArgument } from '@parley/core';
import type { PeerNamedCall } from '../peer/peer-of.js';
import { toGrpcStatus } from '../workload-api/grpc-status.js';
import type {
  CallerResult,
  WorkloadApiLog,
  WorkloadIdentityCache,
  WorkloadX509Svid,
} from '../workload-api/workload-api-deps.js';
import { NO_IDENTITY } from '../workload-api/workload-responses.js';
import { type XdsRelayMethod, requestNode } from './xds-relay-definition.js';

/** An ADS stream as the relay opens it upstream: raw request and response bytes. */
export type XdsRelayStream = ClientDuplexStream<Buffer, Buffer>;

/** How the relay reaches the server's ADS (see `grpcXdsRelayUpstream`). */
export interface XdsRelayUpstream {
  /** Opens `method` upstream over mTLS presenting `svid`, trusting the server by `bundle`. */
  open(method: XdsRelayMethod, svid: WorkloadX509Svid, bundle: Bundle): XdsRelayStream;
}

/** The neighbours of the xDS relay, wired by `serveAgentSocket`. */
export interface XdsRelayDeps {
  /** Attests the caller of `call` exactly as for SDS (peer credentials, socket selector). */
  identify(call: PeerNamedCall): Promise<CallerResult>;
  readonly cache: WorkloadIdentityCache;
  readonly upstream: XdsRelayUpstream;
  readonly log: WorkloadApiLog;
}

/** The relay's handlers, for `server.addService(xdsRelayServiceDefinition(), …)`. */
export interface XdsRelayService extends UntypedServiceImplementation {
  StreamAggregatedResources: handleBidiStreamingCall<Buffer, Buffer>;
  DeltaAggregatedResources: handleBidiStreamingCall<Buffer, Buffer>;
}

type RelayCall = ServerDuplexStream<Buffer, Buffer>;

/** Requests buffered while the caller is attested and the upstream stream opens. */
const MAX_PENDING_REQUESTS = 64;

function statusOf(err: ServiceError): StatusObject {
  return { code: err.code, details: err.details, metadata: new Metadata() };
}

/**
 * One relayed stream: attestation of the caller starts with the call; the first request's
 * `node.id` picks the caller's SVID (PERMISSION_DENIED unless the caller is entitled to it),
 * which the upstream stream presents to the server. Every message then passes through unchanged
 * in both directions, with flow control; half-close, cancellation and the final status propagate
 * both ways. A later request that names another node ends the stream with PERMISSION_DENIED.
 */
class RelayedStream {
  #upstream: XdsRelayStream | undefined;
  #nodeId: string | undefined;
  #pending: Buffer[] = [];
  #clientEnded = false;
  #done = false;
  #upstreamStatus: StatusObject | undefined;
  #upstreamReadEnded = false;

  constructor(
    private readonly call: RelayCall,
    private readonly method: XdsRelayMethod,
    private readonly caller: Promise<CallerResult>,
    private readonly deps: XdsRelayDeps,
  ) {
    call.on('data', (bytes: Buffer) => this.#onRequest(bytes));
    call.on('end', () => this.#onClientEnd());
    call.on('error', () => undefined);
    call.once('cancelled', () => this.#abandon());
    call.once('close', () => this.#abandon());
  }

  #onRequest(bytes: Buffer): void {
    if (this.#done) return;
    let nodeId: string;
    try {
      nodeId = requestNode(this.method, bytes)?.id ?? '';
    } catch {
      this.#fail(invalidArgument('the request is not a valid xDS discovery request'));
      return;
    }
    if (this.#nodeId === undefined) {
      if (nodeId === '') {
        this.#fail(invalidArgument('the first request of an ADS stream must carry node.id'));
        return;
      }
      this.#nodeId = nodeId;
      this.#pending.push(bytes);
      void this.#open(nodeId);
      return;
    }
    if (nodeId !== '' && nodeId !== this.#nodeId) {
      this.#fail(
        new ParleyError(
          'permission-denied',
          `node.id changed to "${nodeId.slice(0, 256)}" on a stream of ${this.#nodeId.slice(0, 256)}`,
        ),
      );
      return;
    }
    if (this.#upstream === undefined) {
      if (this.#pending.length >= MAX_PENDING_REQUESTS) {
        this.#fail(
          new ParleyError('resource-exhausted', 'too many requests before the relay opened'),
        );
        return;
      }
      this.#pending.push(bytes);
    } else {
      this.#upstream.write(bytes);
    }
  }

  async #open(nodeId: string): Promise<void> {
    let svid: WorkloadX509Svid;
    let bundle: Bundle;
    try {
      const caller = await this.caller;
      if (!caller.ok) {
        this.deps.log.warn('xds relay: workload attestation failed', { reason: caller.reason });
        throw new ParleyError('unavailable', 'workload attestation failed');
      }
      const view = this.deps.cache.viewFor(caller.selectors);
      if (view.svids.length === 0) throw new ParleyError('permission-denied', NO_IDENTITY);
      const own = view.svids.find((s) => s.spiffeId.toString() === nodeId);
      if (own === undefined) {
        this.deps.log.warn('xds relay: node.id is not an identity of the caller', {
          nodeId: nodeId.slice(0, 256),
        });
        throw new ParleyError(
          'permission-denied',
          `node.id "${nodeId.slice(0, 256)}" is not an identity of this workload`,
        );
      }
      svid = own;
      bundle = view.bundle;
    } catch (err) {
      this.#fail(err);
      return;
    }
    if (this.#done) return;
    let upstream: XdsRelayStream;
    try {
      upstream = this.deps.upstream.open(this.method, svid, bundle);
    } catch (err) {
      this.#fail(err);
      return;
    }
    this.#upstream = upstream;
    upstream.on('data', (bytes: Buffer) => {
      if (this.#done) return;
      if (!this.call.write(bytes)) {
        upstream.pause();
        this.call.once('drain', () => upstream.resume());
      }
    });
    // Swallowed here: the same failure arrives as the 'status' event.
    upstream.on('error', () => undefined);
    upstream.on('status', (s: StatusObject) => {
      this.#upstreamStatus = s;
      this.#finishIfUpstreamDone();
    });
    upstream.on('end', () => {
      this.#upstreamReadEnded = true;
      this.#finishIfUpstreamDone();
    });
    for (const bytes of this.#pending.splice(0)) upstream.write(bytes);
    if (this.#clientEnded) upstream.end();
  }

  /** Ends the caller's stream with the server's status once every response was passed on. */
  #finishIfUpstreamDone(): void {
    const s = this.#upstreamStatus;
    if (s === undefined || (s.code === status.OK && !this.#upstreamReadEnded) || this.#done) return;
    this.#done = true;
    if (this.call.destroyed || this.call.writableEnded) return;
    if (s.code === status.OK) this.call.end();
    else this.call.emit('error', statusOf(s as ServiceError));
  }

  #onClientEnd(): void {
    this.#clientEnded = true;
    if (this.#upstream !== undefined) this.#upstream.end();
    else if (this.#nodeId === undefined) this.#finish({ code: status.OK });
  }

  #fail(err: unknown): void {
    this.#finish(toGrpcStatus(err, this.deps.log, this.method));
  }

  #finish(s: { code: status; details?: string }): void {
    if (this.#done) return;
    this.#done = true;
    this.#upstream?.cancel();
    if (this.call.destroyed || this.call.writableEnded) return;
    // grpc-js ends a server stream with the status of an 'error' event.
    if (s.code === status.OK) this.call.end();
    else this.call.emit('error', { ...s, metadata: new Metadata() });
  }

  /** The caller went away: the upstream stream is cancelled. */
  #abandon(): void {
    if (this.#done) return;
    this.#done = true;
    this.#upstream?.cancel();
  }
}

/**
 * The agent's xDS relay (DESIGN §1, "How Envoy reaches the control plane"): ADS on the agent
 * sockets for clients that cannot present a certificate to the server (`@grpc/grpc-js-xds`).
 * The caller is attested as for SDS; its first request's `node.id` must be one of its SPIFFE IDs,
 * and the stream is forwarded to the server's ADS over mTLS with that workload's own X509-SVID,
 * so the server sees exactly what it would see from the workload connecting directly.
 */
export function createXdsRelayService(deps: XdsRelayDeps): XdsRelayService {
  const relay = (method: XdsRelayMethod) => (call: RelayCall) => {
    const caller = deps
      .identify(call)
      .catch((err: unknown): CallerResult => ({ ok: false, reason: String(err).slice(0, 512) }));
    new RelayedStream(call, method, caller, deps);
  };
  return {
    StreamAggregatedResources: relay('StreamAggregatedResources'),
    DeltaAggregatedResources: relay('DeltaAggregatedResources'),
  };
}

import {
  type Metadata,
  type ServerWritableStream,
  type StatusObject,
  type UntypedServiceImplementation,
  type handleServerStreamingCall,
  type handleUnaryCall,
} from '@grpc/grpc-js';
import {
  type JwtSvidMessage,
  type JwtSvidRequest,
  type JwtSvidResponse,
  type ValidateJwtSvidRequest,
  type ValidateJwtSvidResponse,
  WORKLOAD_API_HEADER,
} from '@parley/api';
import {
  type SpiffeId,
  ParleyError,
  bundleSet,
  invalidArgument,
  parseSpiffeId,
  verifyJwtSvid,
} from '@parley/core';
import { jsonToStruct } from './claims-struct.js';
import { toGrpcStatus } from './grpc-status.js';
import { type StreamSubscriber, ViewFanOut } from './view-fan-out.js';
import type { Selector, WorkloadApiCall, WorkloadApiDeps } from './workload-api-deps.js';
import {
  NO_IDENTITY,
  type StreamKind,
  type StreamMessages,
  withUniqueHints,
} from './workload-responses.js';

/** The SPIFFE Workload API handlers, for `server.addService(loadWorkloadApi().SpiffeWorkloadAPI.service, …)`. */
export interface WorkloadApiService extends UntypedServiceImplementation {
  FetchX509SVID: handleServerStreamingCall<unknown, StreamMessages['x509-svid']>;
  FetchX509Bundles: handleServerStreamingCall<unknown, StreamMessages['x509-bundles']>;
  FetchJWTSVID: handleUnaryCall<JwtSvidRequest, JwtSvidResponse>;
  FetchJWTBundles: handleServerStreamingCall<unknown, StreamMessages['jwt-bundles']>;
  ValidateJWTSVID: handleUnaryCall<ValidateJwtSvidRequest, ValidateJwtSvidResponse>;
  FetchWITSVID: handleServerStreamingCall<unknown, unknown>;
  FetchWITBundles: handleServerStreamingCall<unknown, unknown>;
}

/** Why the security header is unacceptable (Workload Endpoint §3: exactly `true`, exactly once). */
function securityHeaderProblem(metadata: Metadata): string | undefined {
  const values = metadata.get(WORKLOAD_API_HEADER);
  if (values.length === 0) return `security header "${WORKLOAD_API_HEADER}" missing from request`;
  if (values.length > 1)
    return `security header "${WORKLOAD_API_HEADER}" must be present exactly once`;
  if (values[0] !== 'true') return `security header "${WORKLOAD_API_HEADER}" must be "true"`;
  return undefined;
}

function checkSecurityHeader(call: WorkloadApiCall): void {
  const problem = securityHeaderProblem(call.metadata);
  if (problem !== undefined) throw invalidArgument(problem);
}

/** A stream subscriber over a grpc-js server stream: latest state wins under backpressure. */
function streamSubscriber<K extends StreamKind>(
  kind: K,
  call: ServerWritableStream<unknown, StreamMessages[K]>,
): StreamSubscriber<K> {
  let blocked = false;
  let pending: StreamMessages[K] | undefined;
  const write = (message: StreamMessages[K]): void => {
    if (call.write(message)) return;
    blocked = true;
    call.once('drain', () => {
      blocked = false;
      const next = pending;
      pending = undefined;
      if (next !== undefined && !call.destroyed) write(next);
    });
  };
  return {
    kind,
    send: (message) => {
      if (call.destroyed || call.writableEnded) return;
      if (blocked) pending = message;
      else write(message);
    },
    end: (status) => endStream(call, status),
  };
}

function endStream(call: ServerWritableStream<unknown, unknown>, status: StatusObject): void {
  if (call.destroyed || call.writableEnded) return;
  // grpc-js ends a server stream with the status of an 'error' event.
  call.emit('error', status);
}

/**
 * Creates the SPIFFE Workload API (Workload API §5–§7, Workload Endpoint §3, §6): the security
 * header is required exactly once; callers are attested by `deps.identify`; streams carry the
 * full state and are pushed again only when the caller's view changes; WIT-SVID RPCs answer
 * Unimplemented. Every failure is mapped once, by `toGrpcStatus`.
 */
export function createWorkloadApiService(deps: WorkloadApiDeps): WorkloadApiService {
  const { cache, clock, log } = deps;
  const fanOut = new ViewFanOut(cache, log);

  async function identify(call: WorkloadApiCall, method: string): Promise<readonly Selector[]> {
    const caller = await deps.identify(call);
    if (caller.ok) return caller.selectors;
    log.warn('workload api: workload attestation failed', { method, reason: caller.reason });
    throw new ParleyError('unavailable', 'workload attestation failed');
  }

  function stream<K extends StreamKind>(
    kind: K,
    method: string,
  ): handleServerStreamingCall<unknown, StreamMessages[K]> {
    return (call) => {
      const open = async (): Promise<void> => {
        checkSecurityHeader(call);
        const selectors = await identify(call, method);
        if (call.cancelled || call.destroyed) return;
        const leave = fanOut.join(selectors, streamSubscriber(kind, call));
        // 'close' follows both a client cancellation and the end of the stream.
        call.once('close', leave);
        if (call.destroyed) leave();
      };
      open().catch((err: unknown) => endStream(call, toGrpcStatus(err, log, method)));
    };
  }

  function unary<Req, Res>(
    method: string,
    handler: (request: Req, call: WorkloadApiCall) => Promise<Res>,
  ): handleUnaryCall<Req, Res> {
    return (call, callback) => {
      handler(call.request, call).then(
        (response) => callback(null, response),
        (err: unknown) => callback(toGrpcStatus(err, log, method)),
      );
    };
  }

  const unimplemented =
    (what: string): handleServerStreamingCall<unknown, unknown> =>
    (call) =>
      endStream(
        call,
        toGrpcStatus(new ParleyError('unimplemented', `${what} are not supported`), log, what),
      );

  return {
    FetchX509SVID: stream('x509-svid', 'FetchX509SVID'),
    FetchX509Bundles: stream('x509-bundles', 'FetchX509Bundles'),
    FetchJWTBundles: stream('jwt-bundles', 'FetchJWTBundles'),

    // Workload API §6.2.1.
    FetchJWTSVID: unary('FetchJWTSVID', async (request: JwtSvidRequest, call) => {
      checkSecurityHeader(call);
      const audience = request.audience;
      if (audience.length === 0) throw invalidArgument('audience must be specified');
      if (audience.some((a) => a === ''))
        throw invalidArgument('audience must not contain an empty value');
      const requested: SpiffeId | undefined =
        request.spiffe_id === '' ? undefined : parseSpiffeId(request.spiffe_id);
      const selectors = await identify(call, 'FetchJWTSVID');
      const svids = withUniqueHints(fanOut.viewFor(selectors).svids, log);
      const targets = new Map<string, { spiffeId: SpiffeId; hint: string }>();
      for (const svid of svids) {
        if (requested !== undefined && !svid.spiffeId.equals(requested)) continue;
        const id = svid.spiffeId.toString();
        if (!targets.has(id)) targets.set(id, { spiffeId: svid.spiffeId, hint: svid.hint });
      }
      if (targets.size === 0) {
        throw new ParleyError(
          'permission-denied',
          requested === undefined ? NO_IDENTITY : `no identity issued for ${requested.toString()}`,
        );
      }
      const issued = await Promise.all(
        [...targets.values()].map(async ({ spiffeId, hint }): Promise<JwtSvidMessage> => ({
          spiffe_id: spiffeId.toString(),
          svid: (await cache.fetchJwtSvid(selectors, spiffeId, audience)).token,
          hint,
        })),
      );
      return { svids: issued };
    }),

    // Workload API §6.2.3: validated against the bundles the caller trusts, as SPIRE does.
    ValidateJWTSVID: unary('ValidateJWTSVID', async (request: ValidateJwtSvidRequest, call) => {
      checkSecurityHeader(call);
      if (request.audience === '') throw invalidArgument('audience must be specified');
      if (request.svid === '') throw invalidArgument('svid must be specified');
      const selectors = await identify(call, 'ValidateJWTSVID');
      const view = fanOut.viewFor(selectors);
      const result = verifyJwtSvid(
        request.svid,
        bundleSet(...view.federatedBundles, view.bundle),
        [request.audience],
        clock,
      );
      if (!result.ok) throw invalidArgument(`invalid JWT-SVID: ${result.reason}`);
      const claims = new Map(result.svid.claims);
      // `aud` is always a list on the wire, whatever the token holds (as SPIRE returns it).
      const aud = claims.get('aud');
      if (typeof aud === 'string') claims.set('aud', [aud]);
      return { spiffe_id: result.svid.spiffeId.toString(), claims: jsonToStruct(claims) };
    }),

    // Workload API §7: the WIT-SVID profile is optional; Parley does not support it.
    FetchWITSVID: unimplemented('WIT-SVIDs'),
    FetchWITBundles: unimplemented('WIT bundles'),
  };
}

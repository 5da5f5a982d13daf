import {
  type ServerDuplexStream,
  type ServiceError,
  type UntypedServiceImplementation,
  status,
} from '@grpc/grpc-js';
import {
  type DeltaDiscoveryRequest,
  type DiscoveryRequest,
  GRPC_STATUS_BY_CODE,
  type NodeMessage,
} from '@parley/api';
import { ParleyError, type SpiffeId } from '@parley/core';
import type { MeshSnapshot } from '../snapshot/mesh-snapshot.js';
import type { AdsStreamKind, NodeSummary } from '../status/mesh-status.js';
import { type AdsLimits, type AdsStatusSink, AdsStream, DEFAULT_ADS_LIMITS } from './ads-stream.js';
import { nodeMetadata } from './node-metadata.js';

/** The current mesh snapshot and a way to hear when it changes (the mesh controller). */
export interface SnapshotFeed {
  current(): MeshSnapshot | undefined;
  /** Calls `listener` after every swap; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/** The outcome of verifying a proxy's client certificate as an X509-SVID. */
export type ProxyAuthentication =
  | { readonly ok: true; readonly spiffeId: SpiffeId }
  | { readonly ok: false; readonly reason: string };

/** Where the ADS server reports connected proxies (the proxy status registry). */
export interface AdsStatusRegistry extends AdsStatusSink {
  connected(stream: {
    readonly streamId: number;
    readonly spiffeId: string;
    readonly node: NodeSummary;
    readonly kind: AdsStreamKind;
  }): void;
  disconnected(streamId: number): void;
}

/** What the ADS server needs from its neighbours (STYLE rule 5). */
export interface AdsDeps {
  readonly snapshots: SnapshotFeed;
  /** Verifies the DER leaf certificate the proxy presented (the CA's bundle; the cli wires it). */
  readonly authenticate: (rawCertificate: Buffer) => ProxyAuthentication;
  readonly status: AdsStatusRegistry;
  readonly limits?: AdsLimits;
  readonly log?: (message: string, fields: Record<string, unknown>) => void;
}

/**
 * Largest request the ADS server should accept (`grpc.max_receive_message_length` of the gRPC
 * server that hosts it): a DiscoveryRequest is names and an error message, never resources.
 */
export const ADS_MAX_RECEIVE_MESSAGE_BYTES = 4 * 1024 * 1024;

type AdsCall<Req> = ServerDuplexStream<Req, Buffer>;

function toServiceError(err: unknown, log: AdsDeps['log']): Partial<ServiceError> {
  if (err instanceof ParleyError)
    return { code: GRPC_STATUS_BY_CODE[err.code], details: err.message };
  log?.('ADS internal error', { error: err instanceof Error ? err.message : String(err) });
  return { code: status.INTERNAL, details: 'internal error' };
}

function nodeSummary(node: NodeMessage, metadata: Readonly<Record<string, unknown>>): NodeSummary {
  return {
    cluster: node.cluster.slice(0, 256),
    userAgent: node.user_agent_name.slice(0, 256),
    metadataKeys: Object.keys(metadata).sort().slice(0, 64),
  };
}

/**
 * Envoy's Aggregated Discovery Service (`envoy.service.discovery.v3.AggregatedDiscoveryService`),
 * state of the world and delta, to register with `adsServiceDefinition()`. Every stream must come
 * with a client X509-SVID whose SPIFFE ID equals `node.id`; the proxy receives only
 * `snapshot.resourcesFor(node)`, pushed CDS → EDS → LDS → RDS, ACK/NACK per the xDS protocol.
 */
export function createAdsService(deps: AdsDeps): UntypedServiceImplementation {
  const limits = deps.limits ?? DEFAULT_ADS_LIMITS;
  let nextStreamId = 0;

  function serve<Req extends { node: NodeMessage | null }>(
    call: AdsCall<Req>,
    kind: AdsStreamKind,
    handle: (stream: AdsStream, req: Req) => void,
  ): void {
    const streamId = ++nextStreamId;
    let stream: AdsStream | undefined;
    let unsubscribe: (() => void) | undefined;
    let done = false;
    const cleanup = () => {
      if (done) return;
      done = true;
      stream?.close();
      unsubscribe?.();
      if (stream !== undefined) deps.status.disconnected(streamId);
    };
    // grpc-js ends a server stream with a status when the call emits 'error'.
    const fail = (err: unknown) => {
      if (done) return;
      cleanup();
      call.emit('error', toServiceError(err, deps.log));
    };
    call.on('error', () => cleanup());
    call.on('cancelled', () => cleanup());
    call.on('end', () => {
      if (done) return;
      cleanup();
      call.end();
    });

    let spiffeId: SpiffeId;
    try {
      const raw = call.getAuthContext().sslPeerCertificate?.raw;
      if (raw === undefined)
        throw new ParleyError(
          'unauthenticated',
          'a proxy SVID (TLS client certificate) is required',
        );
      const auth = deps.authenticate(raw);
      if (!auth.ok) throw new ParleyError('unauthenticated', `proxy SVID rejected: ${auth.reason}`);
      spiffeId = auth.spiffeId;
    } catch (err) {
      fail(err);
      return;
    }
    const id = spiffeId.toString();

    call.on('data', (req: Req) => {
      if (done) return;
      try {
        const nodeId = req.node?.id ?? '';
        if (stream === undefined) {
          if (req.node === null || nodeId !== id)
            throw new ParleyError(
              'permission-denied',
              `node.id "${nodeId.slice(0, 256)}" does not match the proxy's SVID ${id}`,
            );
          const metadata = nodeMetadata(req.node.metadata);
          stream = new AdsStream(
            kind,
            streamId,
            { id, metadata },
            {
              current: () => deps.snapshots.current(),
              status: deps.status,
              limits,
              write: (response) => {
                if (!done) call.write(response);
              },
              fail,
            },
          );
          deps.status.connected({
            streamId,
            spiffeId: id,
            node: nodeSummary(req.node, metadata),
            kind,
          });
          const s = stream;
          unsubscribe = deps.snapshots.subscribe(() => s.schedule());
        } else if (nodeId !== '' && nodeId !== id) {
          throw new ParleyError(
            'permission-denied',
            `node.id changed to "${nodeId.slice(0, 256)}" on a stream of ${id}`,
          );
        }
        handle(stream, req);
      } catch (err) {
        fail(err);
      }
    });
  }

  return {
    StreamAggregatedResources(call: AdsCall<DiscoveryRequest>) {
      serve(call, 'sotw', (stream, req) => stream.onSotwRequest(req));
    },
    DeltaAggregatedResources(call: AdsCall<DeltaDiscoveryRequest>) {
      serve(call, 'delta', (stream, req) => stream.onDeltaRequest(req));
    },
  };
}

import {
  type ServerWritableStream,
  type StatusObject,
  type UntypedServiceImplementation,
  type handleServerStreamingCall,
  status,
} from '@grpc/grpc-js';
import { GRPC_STATUS_BY_CODE } from '@parley/api';
import { ParleyError } from '@parley/core';
import {
  type AuthzSnapshot,
  MAX_AUTHZ_SNAPSHOT_LENGTH,
  serializeAuthzSnapshot,
} from '../model/authz-snapshot.js';

/** `parley.authz.v1.PolicySnapshot` as proto-loader encodes it. */
export interface PolicySnapshotWire {
  readonly version: string;
  readonly snapshot_json: string;
}

/** What the policy distribution service needs from its neighbours (STYLE rule 5). */
export interface PolicyDistributionDeps {
  /** The current snapshot; undefined until the first policy set is built. */
  current(): AuthzSnapshot | undefined;
  /** Calls `listener` after every swap of the snapshot; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /**
   * The SPIFFE ID of the DER leaf certificate a caller presented, verified against the current
   * bundle (per stream, so a rotated or revoked authority takes effect), or undefined when it is
   * not a valid X509-SVID.
   */
  readonly authenticate: (rawCertificate: Buffer) => string | undefined;
  /** Whether a caller (its verified SPIFFE ID; undefined without a client certificate) may watch. */
  authorize(peerSpiffeId: string | undefined): boolean;
  readonly log?: (message: string, fields: Record<string, unknown>) => void;
}

/** The handlers, for `server.addService(loadPolicyDistributionApi().service, …)`. */
export interface PolicyDistributionService extends UntypedServiceImplementation {
  WatchPolicies: handleServerStreamingCall<unknown, PolicySnapshotWire>;
}

/**
 * Parley's policy distribution (`parley.authz.v1.PolicyDistribution/WatchPolicies`): a caller
 * that its TLS client certificate identifies (and `authorize` admits) receives the current
 * snapshot at once and every new one after it. Each snapshot is serialized once, whatever the
 * number of watchers; a slow watcher skips the snapshots superseded while it drained and gets the
 * newest. A snapshot over the size bound is logged and not sent.
 */
export function createPolicyDistributionService(
  deps: PolicyDistributionDeps,
): PolicyDistributionService {
  const log = deps.log ?? (() => undefined);
  const encoded = new WeakMap<AuthzSnapshot, PolicySnapshotWire | undefined>();

  const messageOf = (s: AuthzSnapshot): PolicySnapshotWire | undefined => {
    if (encoded.has(s)) return encoded.get(s);
    const json = serializeAuthzSnapshot(s);
    const bytes = Buffer.byteLength(json);
    const message =
      bytes <= MAX_AUTHZ_SNAPSHOT_LENGTH ? { version: s.version, snapshot_json: json } : undefined;
    if (message === undefined) {
      log('policy distribution: snapshot too large to send', {
        version: s.version,
        bytes,
        max: MAX_AUTHZ_SNAPSHOT_LENGTH,
      });
    }
    encoded.set(s, message);
    return message;
  };

  return {
    WatchPolicies(call: ServerWritableStream<unknown, PolicySnapshotWire>): void {
      let closed = false;
      let unsubscribe: () => void = () => undefined;
      const close = () => {
        if (closed) return;
        closed = true;
        unsubscribe();
      };
      const fail = (err: unknown) => {
        if (closed) return;
        close();
        // grpc-js ends a server stream with the status of an 'error' event.
        call.emit('error', toStatus(err, log));
      };
      let sent: AuthzSnapshot | undefined;
      let draining = false;
      const push = (): void => {
        if (closed || draining) return;
        try {
          const snapshot = deps.current();
          if (snapshot === undefined || snapshot === sent) return;
          sent = snapshot;
          const message = messageOf(snapshot);
          if (message === undefined) return;
          if (!call.write(message)) {
            draining = true;
            call.once('drain', () => {
              draining = false;
              push();
            });
          }
        } catch (err) {
          // A failure of this stream must not reach the feed that notified it.
          fail(err);
        }
      };
      try {
        const peer = authenticatedPeer(call, deps);
        if (!deps.authorize(peer)) {
          throw new ParleyError(
            'permission-denied',
            `${peer ?? 'a caller without a client certificate'} may not watch policies`,
          );
        }
        call.on('cancelled', close);
        call.on('close', close);
        call.on('error', close);
        unsubscribe = deps.subscribe(push);
      } catch (err) {
        fail(err);
        return;
      }
      push();
    },
  };
}

/** The caller's SPIFFE ID from its TLS client certificate, verified; undefined without one. */
function authenticatedPeer(
  call: ServerWritableStream<unknown, PolicySnapshotWire>,
  deps: PolicyDistributionDeps,
): string | undefined {
  const raw = call.getAuthContext().sslPeerCertificate?.raw;
  if (raw === undefined) return undefined;
  const id = deps.authenticate(raw);
  if (id === undefined) {
    throw new ParleyError('unauthenticated', 'the client certificate is not a valid X509-SVID');
  }
  return id;
}

/** A stream's final status: a ParleyError by its code; anything else is internal (logged). */
function toStatus(
  err: unknown,
  log: (message: string, fields: Record<string, unknown>) => void,
): Partial<StatusObject> {
  if (err instanceof ParleyError)
    return { code: GRPC_STATUS_BY_CODE[err.code], details: err.message };
  log('policy distribution: internal error', { error: (err as Error).message });
  return { code: status.INTERNAL, details: 'internal error' };
}

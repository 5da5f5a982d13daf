import {
  type CallOptions,
  type ClientReadableStream,
  type StatusObject,
  status as GrpcStatus,
} from '@grpc/grpc-js';
import { type Clock, sleep } from '@parley/core';
import { type AuthzSnapshot, parseAuthzSnapshot } from '../model/authz-snapshot.js';
import type { PolicySnapshotWire } from './policy-distribution-service.js';

/** The one call of the policy distribution client this watcher makes (STYLE rule 5). */
export interface PolicyWatchClient {
  WatchPolicies(
    request: Record<string, never>,
    options?: CallOptions,
  ): ClientReadableStream<PolicySnapshotWire>;
}

/** A client made for one attempt (so each connection uses the credentials current then). */
export type PolicyWatchClientFactory = () => PolicyWatchClient & { close(): void };

/** How `watchPolicies` runs. */
export interface WatchPoliciesOptions {
  /** Receives every snapshot that parsed; a bad one is logged and the last good one stays. */
  onSnapshot(s: AuthzSnapshot): void;
  readonly signal: AbortSignal;
  readonly clock: Clock;
  readonly log?: (message: string, fields: Record<string, unknown>) => void;
  /** Reconnection delays: doubled from `initialMs` (default 500) up to `maxMs` (default 30 s). */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** A stream that lasted this long counts as healthy: the next delay starts over (default 60 s). */
  readonly stableMs?: number;
  /** In [0, 1): spreads delays over ±20% so that agents do not reconnect in step. */
  readonly random?: () => number;
  /** Waits between attempts (tests record the delays). */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Watches the policy snapshots of a PolicyDistribution server until `signal` aborts (then
 * resolves): each message is parsed at the edge and handed to `onSnapshot`; a message that does
 * not parse, or whose version disagrees with its content, is logged and skipped, so the caller
 * keeps deciding with the last good snapshot. A stream that ends or fails is reopened after a
 * capped, jittered exponential backoff, which starts over once a stream delivered a snapshot or
 * stayed up for `stableMs`. Given a factory rather than a client, each attempt gets a new client,
 * closed when the attempt ends: a renewed SVID is presented on the next connection.
 */
export async function watchPolicies(
  client: PolicyWatchClient | PolicyWatchClientFactory,
  opts: WatchPoliciesOptions,
): Promise<void> {
  const { signal, clock } = opts;
  const log = opts.log ?? (() => undefined);
  const initial = opts.backoff?.initialMs ?? 500;
  const max = Math.max(initial, opts.backoff?.maxMs ?? 30_000);
  const stable = opts.stableMs ?? 60_000;
  const random = opts.random ?? Math.random;
  const wait = opts.sleep ?? sleep;
  let delay = 0;
  while (!signal.aborted) {
    const started = clock.now();
    const { code, details, delivered } = await attempt(client, opts, log);
    if (signal.aborted) break;
    const healthy = delivered || clock.now() - started >= stable;
    delay = healthy || delay === 0 ? initial : Math.min(max, delay * 2);
    const jittered = Math.round(delay * (0.8 + 0.4 * random()));
    log('policy watch: stream ended; reconnecting', {
      code,
      details: details.slice(0, 512),
      delayMs: jittered,
    });
    try {
      await wait(jittered, signal);
    } catch {
      break; // aborted while waiting
    }
  }
}

/** How one attempt ended: the stream's final status (or why none opened), and whether it delivered. */
interface Attempt {
  readonly code: number;
  readonly details: string;
  readonly delivered: boolean;
}

/** One attempt with the client, or with a client made for it (closed after it; never throws). */
async function attempt(
  client: PolicyWatchClient | PolicyWatchClientFactory,
  opts: WatchPoliciesOptions,
  log: (message: string, fields: Record<string, unknown>) => void,
): Promise<Attempt> {
  if (typeof client !== 'function') return watchOnce(client, opts, log);
  let made: PolicyWatchClient & { close(): void };
  try {
    made = client();
  } catch (err) {
    return {
      code: GrpcStatus.UNAVAILABLE,
      details: `no client: ${(err as Error).message}`,
      delivered: false,
    };
  }
  try {
    return await watchOnce(made, opts, log);
  } finally {
    made.close();
  }
}

/** One stream: resolves with its final status and whether it delivered a good snapshot. */
function watchOnce(
  client: PolicyWatchClient,
  opts: WatchPoliciesOptions,
  log: (message: string, fields: Record<string, unknown>) => void,
): Promise<Attempt> {
  let call: ClientReadableStream<PolicySnapshotWire>;
  try {
    call = client.WatchPolicies({});
  } catch (err) {
    const details = `the call could not start: ${(err as Error).message}`;
    return Promise.resolve({ code: GrpcStatus.UNAVAILABLE, details, delivered: false });
  }
  return new Promise((resolve) => {
    let delivered = false;
    const onAbort = () => call.cancel();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    call.on('data', (message: PolicySnapshotWire) => {
      let snapshot: AuthzSnapshot;
      try {
        snapshot = parseAuthzSnapshot(message.snapshot_json);
        if (snapshot.version !== message.version) {
          throw new Error(
            `the message says version ${message.version.slice(0, 256)}, its snapshot ${snapshot.version}`,
          );
        }
      } catch (err) {
        log('policy watch: snapshot rejected; keeping the last good one', {
          version: message.version.slice(0, 256),
          error: (err as Error).message,
        });
        return;
      }
      delivered = true;
      try {
        opts.onSnapshot(snapshot);
      } catch (err) {
        log('policy watch: onSnapshot failed', {
          version: snapshot.version,
          error: (err as Error).message,
        });
      }
    });
    // The final status follows every error; it is what ends this attempt.
    call.on('error', () => undefined);
    call.on('status', (status: StatusObject) => {
      opts.signal.removeEventListener('abort', onAbort);
      resolve({ code: status.code, details: status.details, delivered });
    });
  });
}

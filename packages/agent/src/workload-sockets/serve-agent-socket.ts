import { Server, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { loadWorkloadApi, loadXdsServices } from '@parley/api';
import type { Clock } from '@parley/core';
import { type UnixGrpcListener, listenUnixGrpc } from '../peer/listen-unix-grpc.js';
import type { PeerNamedCall } from '../peer/peer-of.js';
import type { OAuthTokenClient } from '../sds/oauth-token-client.js';
import { createSdsService } from '../sds/sds-service.js';
import type {
  CallerResult,
  WorkloadApiLog,
  WorkloadIdentityCache,
} from '../workload-api/workload-api-deps.js';
import { createWorkloadApiService } from '../workload-api/workload-api-service.js';
import { xdsRelayServiceDefinition } from '../xds-relay/xds-relay-definition.js';
import { type XdsRelayUpstream, createXdsRelayService } from '../xds-relay/xds-relay-service.js';
import { callerOnSocket } from './socket-selector.js';

/** What an agent socket needs: how to attest a caller, the SVID cache, a clock and a log. */
export interface AgentSocketDeps {
  /** Attests the caller of a call that arrived through `listenUnixGrpc` (e.g. `attestCaller`). */
  attest(call: PeerNamedCall): Promise<CallerResult>;
  readonly cache: WorkloadIdentityCache;
  readonly clock: Clock;
  readonly log: WorkloadApiLog;
  /** When set, the socket also serves ADS, relayed to the server with the caller's own SVID. */
  readonly xdsRelay?: XdsRelayUpstream;
  /** Where SDS gets `parley:oauth:…` access tokens (token egress); without it none are served. */
  readonly oauth?: OAuthTokenClient;
  /**
   * Services other modules serve on the socket (the ext_authz Check service), given the SPIFFE
   * IDs the caller of a call is entitled to (from its attested selectors; empty when none).
   */
  readonly extraServices?: (
    identities: (call: PeerNamedCall) => Promise<readonly string[]>,
  ) => readonly {
    readonly definition: ServiceDefinition;
    readonly implementation: UntypedServiceImplementation;
  }[];
}

/** Options of `serveAgentSocket`. */
export interface AgentSocketOptions {
  /** Permission bits of the socket file (see `listenUnixGrpc`). */
  readonly mode?: number;
  /** For a per-workload socket: its name, whose selector `parley:socket:<name>` every caller gets. */
  readonly socketName?: string;
  readonly onError?: (error: Error) => void;
}

/** A served agent socket: its path, and close (ends its calls and removes the file). */
export type AgentSocket = UnixGrpcListener;

/**
 * Serves the SPIFFE Workload API and SDS (and the xDS relay when `deps.xdsRelay` is set) on the
 * Unix socket `path`, attesting every caller by its peer credentials (DESIGN §1). One gRPC server per socket, so the socket a call came through is
 * known without looking at the call: its callers get the socket's selector and nothing else does.
 */
export async function serveAgentSocket(
  path: string,
  deps: AgentSocketDeps,
  options: AgentSocketOptions = {},
): Promise<AgentSocket> {
  const identify = async (call: PeerNamedCall): Promise<CallerResult> =>
    callerOnSocket(await deps.attest(call), options.socketName);
  const server = new Server();
  server.addService(
    loadWorkloadApi().SpiffeWorkloadAPI.service,
    createWorkloadApiService({ identify, cache: deps.cache, clock: deps.clock, log: deps.log }),
  );
  server.addService(
    loadXdsServices().SecretDiscoveryService.service,
    createSdsService({
      identify,
      cache: deps.cache,
      log: deps.log,
      clock: deps.clock,
      oauth: deps.oauth,
    }),
  );
  if (deps.xdsRelay !== undefined) {
    server.addService(
      xdsRelayServiceDefinition(),
      createXdsRelayService({
        identify,
        cache: deps.cache,
        upstream: deps.xdsRelay,
        log: deps.log,
      }),
    );
  }
  const identities = async (call: PeerNamedCall): Promise<readonly string[]> => {
    const caller = await identify(call);
    return caller.ok
      ? deps.cache.viewFor(caller.selectors).svids.map((s) => s.spiffeId.toString())
      : [];
  };
  for (const extra of deps.extraServices?.(identities) ?? []) {
    server.addService(extra.definition, extra.implementation);
  }
  let listener: UnixGrpcListener;
  try {
    listener = await listenUnixGrpc(server, path, {
      ...(options.mode === undefined ? {} : { mode: options.mode }),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
    });
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    path,
    close: () =>
      (closed ??= (async () => {
        server.forceShutdown();
        await listener.close();
      })()),
  };
}

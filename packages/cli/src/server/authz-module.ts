import { Server, type ServerUnaryCall, type sendUnaryData, status } from '@grpc/grpc-js';
import { loadPolicyDistributionApi, loadXdsServices } from '@parley/api';
import {
  type AuthzSnapshot,
  type DecisionRecord,
  createCheckService,
  createDecisionLogService,
  createPolicyDistributionService,
} from '@parley/authz';
import type { Clock, SpiffeId, Task } from '@parley/core';
import { type RotatingTlsMaterial, agentApiServerCredentials } from '@parley/identity';
import type { HttpFilterPiece, MeshConfig as MeshDocuments } from '@parley/mesh';
import type { Database } from '@parley/store';
import type { Log } from '../log.js';
import type { Metrics } from '../metrics.js';
import { authzPieces, snapshotOf } from './authz-pieces.js';
import { DecisionWriter } from './decision-writer.js';
import type { AuthzConfig } from './server-config.js';

/** The authz module as the server runs it. */
export interface AuthzModule {
  /** The filter pieces enforcing a config's policies (for the mesh compiler). */
  pieces(config: MeshDocuments): HttpFilterPiece[];
  /** Makes a commit's policies the ones decided with (the commit the mesh now serves). */
  serve(commit: string, config: MeshDocuments): void;
  /** The policies decided with now. */
  snapshot(): AuthzSnapshot | undefined;
  readonly task: Task;
  close(): void;
}

/**
 * Starts the authz module: its listener (mTLS with the server's SVID) serving the ext_authz Check
 * service to sidecars, the policy stream to agents and the decision log (Envoy's access log
 * service) — plus the filter pieces the mesh compiler puts on every inbound listener: the JWT
 * filter, then RBAC where Envoy can decide alone, else ext_authz (at the agent or this server),
 * and the access logger that feeds the decision log.
 */
export async function startAuthzModule(
  config: AuthzConfig,
  deps: {
    readonly serverId: SpiffeId;
    /** The tokens module's issuer, whose JWKS sidecars fetch over SPIFFE mTLS. */
    readonly tokensIssuer?: string | undefined;
    readonly material: RotatingTlsMaterial;
    /** The SPIFFE ID of a verified SVID chain's leaf, or undefined. */
    readonly authenticate: (raw: Buffer) => string | undefined;
    readonly db: Database;
    readonly clock: Clock;
    readonly log: Log;
    readonly metrics: Metrics;
  },
): Promise<AuthzModule> {
  const { clock, log, metrics } = deps;
  let current: AuthzSnapshot | undefined;
  const listeners = new Set<() => void>();
  const writer = new DecisionWriter(deps.db, {
    onWritten: (records) => {
      for (const r of records) {
        metrics.inc('parley_authz_decisions_total', 1, {
          outcome: r.outcome,
          enforced_by: r.enforcedBy,
          policy: r.policy ?? '',
        });
      }
    },
    onDropped: (n) => metrics.inc('parley_authz_decisions_dropped_total', n),
    log,
  });

  const grpc = new Server();
  const xds = loadXdsServices();
  const check = createCheckService({ snapshot: () => current, clock });
  grpc.addService(xds.Authorization.service, {
    // Only a sidecar may ask, and only about requests to itself: the destination is its own SVID.
    Check: (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      const raw = call.getAuthContext().sslPeerCertificate?.raw;
      const id = raw === undefined ? undefined : deps.authenticate(raw);
      const destination = (
        call.request as { attributes?: { destination?: { principal?: string } } }
      ).attributes?.destination?.principal;
      if (id === undefined || destination !== id) {
        callback({
          code: status.PERMISSION_DENIED,
          details: 'a sidecar may check only requests to its own SPIFFE ID',
        });
        return;
      }
      check.Check(call, callback);
    },
  });
  grpc.addService(
    loadPolicyDistributionApi().service,
    createPolicyDistributionService({
      current: () => current,
      authenticate: deps.authenticate,
      subscribe: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      authorize: (peer) =>
        peer !== undefined &&
        peer.startsWith(`${deps.serverId.trustDomain.idString()}/parley/agent/`),
    }),
  );
  grpc.addService(
    xds.AccessLogService.service,
    createDecisionLogService({
      authenticate: deps.authenticate,
      context: (id) => {
        const w = current?.workloads.get(id);
        return {
          ...(w !== undefined && { service: w.service, ports: w.ports }),
          ...(current !== undefined && { version: current.version }),
          headerNames: current?.headerNames ?? [],
          sampleAllows: config.sampleAllows,
        };
      },
      clock,
      record: (records: readonly DecisionRecord[]) => writer.add(records),
    }),
  );
  await new Promise<void>((resolve, reject) =>
    grpc.bindAsync(config.address, agentApiServerCredentials(deps.material), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  log.info('authz listening', { address: config.address, extAuthz: config.extAuthz });

  return {
    pieces: (mesh) => authzPieces(config, deps.serverId.toString(), mesh, deps.tokensIssuer),
    serve: (commit, mesh) => {
      if (current?.version === commit) return;
      current = snapshotOf(commit, mesh);
      for (const l of listeners) l();
    },
    snapshot: () => current,
    task: (signal) => writer.run(signal),
    close: () => grpc.forceShutdown(),
  };
}

import { join } from 'node:path';
import { Server } from '@grpc/grpc-js';
import {
  type Clock,
  ParleyError,
  type SpiffeId,
  type Task,
  type TrustDomain,
  runTasks,
  bundleSet,
  verifyX509Svid,
} from '@parley/core';
import { type Ca, type RotatingTlsMaterial, agentApiServerCredentials } from '@parley/identity';
import {
  ADS_MAX_RECEIVE_MESSAGE_BYTES,
  type BuildResult,
  type ConfigFile,
  type Endpoint,
  GitSource,
  MeshController,
  type MeshConfig as MeshDocuments,
  type HttpFilterPiece,
  type MeshSnapshot,
  ProxyStatusRegistry,
  adsServiceDefinition,
  compileMesh,
  createAdsService,
  meshStatus,
  parseMeshConfig,
  withEndpoints,
} from '@parley/mesh';
import type { Log } from '../log.js';
import type { AuthzModule } from './authz-module.js';
import { checkWithToken, fetchJwks } from './authz-check.js';
import type { MeshAdmin } from './mesh-routes.js';
import type { SecretsModule } from './secrets-module.js';
import type { TokensModule } from './tokens-module.js';
import type { MeshConfig } from './server-config.js';

/** The mesh module as the server runs it: its long-lived task and what the admin API reads. */
export interface MeshModule extends MeshAdmin {
  readonly task: Task;
  close(): void;
}

/** One commit's files → a snapshot, or every problem (pure apart from a compiler bug's throw). */
export function buildMeshSnapshot(
  files: readonly ConfigFile[],
  commit: string,
  trustDomain: TrustDomain,
  options: {
    readonly onParsed?: (config: MeshDocuments) => void;
    /** The filter pieces of other modules for this config (authorization). */
    readonly httpFilters?: (config: MeshDocuments) => HttpFilterPiece[];
  } = {},
): BuildResult {
  const parsed = parseMeshConfig(files);
  if (!parsed.ok) return { ok: false, problems: parsed.problems };
  options.onParsed?.(parsed.config);
  try {
    return {
      ok: true,
      snapshot: compileMesh(parsed.config, {
        commit,
        trustDomain: trustDomain.name,
        httpFilters: options.httpFilters?.(parsed.config) ?? [],
      }),
    };
  } catch (err) {
    // A resource that fails Envoy's schema is a compiler bug; the commit is refused, not served.
    return {
      ok: false,
      problems: [{ file: '', line: 0, path: '', message: `compile failed: ${String(err)}` }],
    };
  }
}

/** Verifies a peer's certificate as an SVID of this CA's trust domain. */
export function verifyPeerSvid(
  ca: Ca,
  clock: Clock,
  raw: Buffer,
): { ok: true; spiffeId: SpiffeId } | { ok: false; reason: string } {
  const intermediates = ca.x509Authorities().flatMap((a) => a.certChain.slice(0, -1));
  const result = verifyX509Svid([raw, ...intermediates], bundleSet(ca.bundle()), clock);
  return result.ok
    ? { ok: true, spiffeId: result.svid.spiffeId }
    : { ok: false, reason: result.reason };
}

/**
 * Starts the mesh module: the ADS listener over mTLS (the server's own SVID; each proxy presents
 * its SVID, whose SPIFFE ID must be its node.id), the controller that swaps in each good commit,
 * and the Git source watching the configured branch.
 */
export async function startMeshModule(
  config: MeshConfig,
  deps: {
    readonly trustDomain: TrustDomain;
    readonly dataDir: string;
    readonly ca: Ca;
    readonly material: RotatingTlsMaterial;
    readonly clock: Clock;
    readonly log: Log;
    /** Authorization: its filter pieces go on every inbound listener. */
    readonly authz?: AuthzModule;
    /** Secrets: the served commit's SecretPolicy documents join its effective policy set. */
    readonly secrets?: Pick<SecretsModule, 'serveMeshPolicies'> | undefined;
    readonly tokens?: Pick<TokensModule, 'serveMeshPolicies'> | undefined;
  },
): Promise<MeshModule> {
  const { ca, clock, log, authz } = deps;
  // The parsed documents of each built commit, so that the served one's policies can be read.
  const parsedByCommit = new Map<string, MeshDocuments>();
  const controller = new MeshController<Endpoint>({
    build: (files, commit) =>
      buildMeshSnapshot(files, commit, deps.trustDomain, {
        onParsed: (config) => {
          const served = controller.current()?.commit;
          for (const c of parsedByCommit.keys()) if (c !== served) parsedByCommit.delete(c);
          parsedByCommit.set(commit, config);
        },
        ...(authz !== undefined && { httpFilters: (config) => authz.pieces(config) }),
      }),
    withEndpoints: (snapshot, endpoints) => {
      try {
        let next: MeshSnapshot = snapshot;
        for (const [service, list] of endpoints) next = withEndpoints(next, service, list);
        return { ok: true, snapshot: next };
      } catch (err) {
        return { ok: false, reason: (err as Error).message };
      }
    },
    clock,
    log: (message, fields) => log.info(`mesh: ${message}`, fields),
  });
  // The policies decided with follow the commit served (endpoint swaps keep the commit).
  const unsubscribe = controller.subscribe(() => {
    const commit = controller.current()?.commit;
    const config = commit === undefined ? undefined : parsedByCommit.get(commit);
    if (commit !== undefined && config !== undefined) {
      authz?.serve(commit, config);
      deps.secrets?.serveMeshPolicies(config.secretPolicies.map((d) => d.policy));
      deps.tokens?.serveMeshPolicies(config.tokenPolicies.map((d) => d.policy));
    }
  });
  const proxies = new ProxyStatusRegistry(clock);
  const grpc = new Server({ 'grpc.max_receive_message_length': ADS_MAX_RECEIVE_MESSAGE_BYTES });
  grpc.addService(
    adsServiceDefinition(),
    createAdsService({
      snapshots: controller,
      status: proxies,
      authenticate: (raw) => verifyPeerSvid(ca, clock, raw),
      log: (message, fields) => log.info(`ads: ${message}`, fields),
    }),
  );
  await new Promise<void>((resolve, reject) =>
    grpc.bindAsync(config.xdsAddress, agentApiServerCredentials(deps.material), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  log.info('ADS listening', { address: config.xdsAddress, repository: config.repository });
  let lastSourceError: string | undefined;
  const source = new GitSource(
    {
      repository: config.repository,
      branch: config.branch,
      dataDir: join(deps.dataDir, 'mesh'),
      pollInterval: config.pollInterval,
    },
    {
      onCommit: (commit) => {
        lastSourceError = undefined;
        controller.applyCommit(commit);
      },
      onError: (message) => {
        controller.sourceFailed(message);
        // Polled every few seconds: log a failure when it starts or changes, not on every poll.
        if (message !== lastSourceError) log.error('mesh config source failed', { error: message });
        lastSourceError = message;
      },
    },
  );
  return {
    task: (signal) =>
      runTasks(signal, [(s) => source.run(s), ...(authz === undefined ? [] : [authz.task])]),
    status: () => meshStatus({ controller: controller.status(), proxies: proxies.proxies() }),
    registerEndpoints: (service, endpoints) => {
      const result = controller.updateEndpoints(service, endpoints);
      return result.ok ? { ok: true, version: result.snapshot.version } : result;
    },
    checkAuthorization: (input) => {
      const served = controller.current();
      const config = served === undefined ? undefined : parsedByCommit.get(served.commit);
      if (config === undefined) {
        return Promise.reject(
          new ParleyError('failed-precondition', 'no mesh config is served yet'),
        );
      }
      return checkWithToken(config, input, { clock, fetchJwks });
    },
    close: () => {
      unsubscribe();
      grpc.forceShutdown();
      authz?.close();
    },
  };
}

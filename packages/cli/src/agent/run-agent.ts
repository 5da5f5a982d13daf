import { createPrivateKey, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  AgentManager,
  type AgentSocketDeps,
  type NodeAttestationPlugin,
  WorkloadSockets,
  attestCaller,
  createOAuthTokenClient,
  createWorkloadAttestors,
  grpcXdsRelayUpstream,
  serveAgentSocket,
} from '@parley/agent';
import { encodeX509popPayload, x509popSigningInput } from '@parley/api';
import { type Clock, ParleyError, type Task, decodePemBlocks, runTasks, sleep } from '@parley/core';
import type { Log } from '../log.js';
import { agentAuthz } from './agent-authz.js';
import type { AgentConfig } from './agent-config.js';

/** The agent's node attestation plugin: x509pop when configured, else a join token. */
async function nodeAttestation(
  config: AgentConfig,
  env: Readonly<Record<string, string | undefined>>,
): Promise<NodeAttestationPlugin> {
  if (config.x509pop !== undefined) {
    const chain = decodePemBlocks(
      await readFile(config.x509pop.certChainFile, 'utf8'),
      'CERTIFICATE',
    );
    const key = createPrivateKey(await readFile(config.x509pop.keyFile, 'utf8'));
    return {
      type: 'x509pop',
      payload: async () => encodeX509popPayload(chain),
      answer: async (challenge) => sign('sha256', x509popSigningInput(challenge), key),
    };
  }
  const joinToken = config.joinToken ?? env['PARLEY_JOIN_TOKEN'];
  return {
    type: 'join_token',
    payload: async () => {
      if (joinToken === undefined) {
        throw new ParleyError(
          'failed-precondition',
          'the agent is not attested and has no join token (joinToken or PARLEY_JOIN_TOKEN)',
        );
      }
      return Buffer.from(joinToken);
    },
    answer: () => Promise.reject(new ParleyError('unimplemented', 'join_token takes no challenge')),
  };
}

/** Initial sync attempts before the Workload API opens anyway (about 10 s in all). */
const INITIAL_SYNC_ATTEMPTS = 6;

/**
 * `parley agent run`: the composition root of the node agent — attestation (or the saved agent
 * SVID), the sync/rotation loop, and the SPIFFE Workload API and Envoy's SDS on its Unix socket
 * with workload attestation by peer credentials, plus the per-workload sockets and the xDS relay
 * (ADS forwarded to the server with each caller's own SVID) and the embedded ext_authz service when
 * configured.
 * Runs until `signal` aborts or a task fails.
 */
export async function runAgent(
  config: AgentConfig,
  deps: {
    readonly clock: Clock;
    readonly log: Log;
    readonly signal: AbortSignal;
    readonly env: Readonly<Record<string, string | undefined>>;
    readonly onReady?: () => void;
  },
): Promise<void> {
  const { clock, log, signal } = deps;
  const roots = decodePemBlocks(await readFile(config.bootstrapBundleFile, 'utf8'), 'CERTIFICATE');
  if (roots.length === 0)
    throw new ParleyError('invalid-argument', `${config.bootstrapBundleFile} holds no certificate`);
  const manager = await AgentManager.start({
    trustDomain: config.trustDomain,
    serverAddress: config.serverAddress,
    serverId: config.serverId,
    bootstrapRoots: roots,
    dataDir: config.dataDir,
    attestation: await nodeAttestation(config, deps.env),
    syncInterval: config.syncInterval,
    clock,
    log: (message, fields) => log.info(message, fields),
  });
  log.info('agent identity', { spiffeId: manager.agentId.toString() });
  // Sync before serving, so the first callers find their SVIDs (SVIDs are not kept on disk);
  // retried for a while, then the agent serves what it has and keeps syncing.
  for (let attempt = 1; ; attempt++) {
    try {
      await manager.tick();
      break;
    } catch (err) {
      log.warn('initial sync failed', { attempt, error: err });
      if (attempt === INITIAL_SYNC_ATTEMPTS || signal.aborted) break;
      await sleep(500 * attempt, signal).catch(() => undefined);
    }
  }

  const attestors = createWorkloadAttestors(config.workloadAttestors);
  const authz =
    config.authz === undefined ? undefined : agentAuthz(config.authz, { manager, clock, log });
  const socketDeps: AgentSocketDeps = {
    attest: (call) => attestCaller(call, attestors),
    cache: manager.cache,
    clock,
    log: { warn: (m, f) => log.warn(m, f), error: (m, f) => log.error(m, f) },
    ...(config.xdsRelay !== undefined && {
      xdsRelay: grpcXdsRelayUpstream({
        address: config.xdsRelay.serverAddress,
        serverId: config.serverId,
      }),
    }),
    ...(authz !== undefined && { extraServices: authz.services }),
    ...(config.tokenEndpoint !== undefined && {
      oauth: createOAuthTokenClient(config.tokenEndpoint),
    }),
  };
  // The general socket: callers get what their peer credentials entitle them to, never a
  // `parley:socket:*` selector.
  const general = await serveAgentSocket(config.socketPath, socketDeps);
  const tasks: Task[] = [(s) => manager.run(s), ...(authz === undefined ? [] : [authz.task])];
  const socketsConfig = config.workloadSockets;
  if (socketsConfig !== undefined) {
    const sockets = new WorkloadSockets({
      dir: socketsConfig.dir,
      entries: manager.cache,
      serve: (name, path) =>
        serveAgentSocket(path, socketDeps, { mode: socketsConfig.mode, socketName: name }),
      log: { info: (m, f) => log.info(m, f), warn: (m, f) => log.warn(m, f) },
    });
    // Open the sockets of the entries synced so far before reporting ready.
    try {
      await sockets.reconcile();
    } catch (err) {
      await general.close();
      throw err;
    }
    tasks.push((s) => sockets.run(s));
    log.info('per-workload sockets enabled', {
      dir: socketsConfig.dir,
      sockets: [...sockets.paths.keys()],
    });
  }
  // Tests and `parley up` wait for this line: every socket is served once it is logged.
  log.info('Workload API listening', {
    socket: config.socketPath,
    services: [
      'workload',
      'sds',
      ...(config.xdsRelay === undefined ? [] : ['ads']),
      ...(config.authz === undefined ? [] : ['ext_authz']),
    ],
    ...(config.xdsRelay !== undefined && { xdsRelayServer: config.xdsRelay.serverAddress }),
  });
  deps.onReady?.();
  try {
    await runTasks(signal, tasks);
  } finally {
    await general.close();
  }
}

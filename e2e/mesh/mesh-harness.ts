import { execFile } from 'node:child_process';
import { access, chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { toProto3Json } from '@parley/api';
import { parseSpiffeId } from '@parley/core';
import { type MeshStatus, mintProxyBootstrap } from '@parley/mesh';
import {
  type Daemon,
  type Envoy,
  type TempDir,
  freePorts,
  httpOk,
  makeTempDir,
  startEnvoy,
  waitFor,
} from '@parley/testing';
import { parley, startParley } from '../identity/harness.js';

const run = promisify(execFile);

/** A running mesh on loopback: a server with the mesh module, an agent, and a config repo. */
export interface MeshCluster {
  readonly dir: string;
  readonly repo: string;
  readonly xdsPort: number;
  readonly authzPort: number;
  readonly agentId: string;
  readonly server: Daemon;
  readonly agent: Daemon;
  /** Runs an admin command against the server. */
  admin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Replaces the repo's files with `files` (path → YAML), commits, and returns the commit SHA. */
  commit(files: Readonly<Record<string, string>>, message: string): Promise<string>;
  /** `parley mesh status -o json`. */
  status(): Promise<MeshStatus>;
  /** Waits until the server serves `commit` (or has rejected it, with `rejected`). */
  waitForCommit(commit: string, outcome?: 'applied' | 'rejected'): Promise<void>;
  /**
   * Registers the workload `name` (entry `spiffeId` with selector `parley:socket:<name>`) and
   * returns its per-workload agent socket once the agent serves it.
   */
  addWorkload(name: string, spiffeId: string, x509Ttl?: string): Promise<string>;
  /** Starts an Envoy sidecar for `spiffeId` (instance `instance`) on the workload's socket. */
  startSidecar(options: {
    readonly name: string;
    readonly spiffeId: string;
    readonly instance: string;
    readonly socket: string;
    readonly delta?: boolean;
    /** Envoy's admin port (default 0: any free port). */
    readonly adminPort?: number;
  }): Promise<Envoy>;
  stop(): Promise<void>;
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'parley-e2e',
  GIT_AUTHOR_EMAIL: 'e2e@parley.invalid',
  GIT_COMMITTER_NAME: 'parley-e2e',
  GIT_COMMITTER_EMAIL: 'e2e@parley.invalid',
};

/** Options of `startMeshCluster`: the server's `authz:` settings. */
export interface MeshClusterOptions {
  /** Where sidecars send what RBAC cannot decide (default: the agent). */
  readonly extAuthz?: 'agent' | 'server';
  /** The share of allows the decision log records (default: the server's). */
  readonly sampleAllows?: number;
  /** More top-level server config (YAML lines), e.g. a `tokens:` section. */
  readonly serverConfig?: readonly string[];
  /** More top-level agent config (YAML lines), e.g. `tokenEndpoint`. */
  readonly agentConfig?: readonly string[];
}

/**
 * Starts a server (mesh and authz modules on, watching a fresh Git repo) and an agent with
 * workload sockets, the xDS relay and the embedded ext_authz service.
 */
export async function startMeshCluster(options: MeshClusterOptions = {}): Promise<MeshCluster> {
  const temp: TempDir = await makeTempDir('parley-mesh-');
  const dir = temp.path;
  await chmod(dir, 0o755);
  const [healthPort, apiPort, xdsPort, authzPort] = (await freePorts(4)) as [
    number,
    number,
    number,
    number,
  ];
  const adminSocket = join(dir, 'admin.sock');
  const repo = join(dir, 'mesh-config');
  const sockets = join(dir, 'workloads');
  const git = (...args: string[]) =>
    run('git', ['-C', repo, ...args], { env: { ...process.env, ...GIT_ENV } });
  await mkdir(repo);
  await git('init', '-q', '-b', 'main');
  await writeFile(
    join(dir, 'server.yaml'),
    [
      'trustDomain: example.org',
      `dataDir: ${join(dir, 'server')}`,
      `agentApiAddress: 127.0.0.1:${apiPort}`,
      `adminSocket: ${adminSocket}`,
      `healthAddress: 127.0.0.1:${healthPort}`,
      'mesh:',
      `  xdsAddress: 127.0.0.1:${xdsPort}`,
      `  repository: ${repo}`,
      '  branch: main',
      '  pollInterval: 200ms',
      'authz:',
      `  address: 127.0.0.1:${authzPort}`,
      `  extAuthz: ${options.extAuthz ?? 'agent'}`,
      ...(options.sampleAllows === undefined ? [] : [`  sampleAllows: ${options.sampleAllows}`]),
      ...(options.serverConfig ?? []),
    ].join('\n'),
  );
  const daemons: Daemon[] = [];
  const envoys: Envoy[] = [];
  const stop = async () => {
    await Promise.all(envoys.map((e) => e.stop()));
    for (const d of daemons.reverse()) await d.stop();
    await temp.remove();
  };
  try {
    const server = startParley(['server', 'run', '--config', join(dir, 'server.yaml')]);
    daemons.push(server);
    await waitFor(
      'server ready',
      () => httpOk(`http://127.0.0.1:${healthPort}/ready`),
      30_000,
      () => server.log(),
    );
    const admin = (...args: string[]) => parley([...args, '--socket', adminSocket]);
    const ok = async (...args: string[]) => {
      const r = await admin(...args);
      if (r.code !== 0) throw new Error(`parley ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    await writeFile(join(dir, 'bundle.pem'), await ok('bundle', 'show', '-o', 'pem'));
    const token = JSON.parse(await ok('token', 'generate', '-o', 'json')) as {
      token: string;
      agentSpiffeId: string;
    };
    await writeFile(
      join(dir, 'agent.yaml'),
      [
        'trustDomain: example.org',
        `dataDir: ${join(dir, 'agent')}`,
        `serverAddress: 127.0.0.1:${apiPort}`,
        `bootstrapBundleFile: ${join(dir, 'bundle.pem')}`,
        `socketPath: ${join(dir, 'agent.sock')}`,
        `joinToken: ${token.token}`,
        'syncInterval: 500ms',
        'workloadSockets:',
        `  dir: ${sockets}`,
        // Proxyless gRPC clients reach ADS through the agent's relay.
        'xdsRelay:',
        `  serverAddress: 127.0.0.1:${xdsPort}`,
        'authz:',
        `  serverAddress: 127.0.0.1:${authzPort}`,
        ...(options.agentConfig ?? []),
      ].join('\n'),
    );
    const agent = startParley(['agent', 'run', '--config', join(dir, 'agent.yaml')]);
    daemons.push(agent);
    await waitFor(
      'agent ready',
      () => agent.log().includes('Workload API listening'),
      30_000,
      () => agent.log(),
    );

    const status = async () => JSON.parse(await ok('mesh', 'status', '-o', 'json')) as MeshStatus;
    return {
      dir,
      repo,
      xdsPort,
      authzPort,
      agentId: token.agentSpiffeId,
      server,
      agent,
      admin,
      status,
      commit: async (files, message) => {
        await git('rm', '-rq', '--ignore-unmatch', '.');
        for (const [path, text] of Object.entries(files)) {
          await mkdir(dirname(join(repo, path)), { recursive: true });
          await writeFile(join(repo, path), text);
        }
        await git('add', '-A');
        await git('commit', '-qm', message, '--allow-empty');
        return (await git('rev-parse', 'HEAD')).stdout.trim();
      },
      waitForCommit: async (commit, outcome = 'applied') =>
        waitFor(
          `commit ${commit.slice(0, 8)} ${outcome}`,
          async () => {
            const c = (await status()).controller;
            return outcome === 'applied'
              ? c.current?.commit === commit
              : c.lastRejected?.commit === commit;
          },
          20_000,
          () => server.log(),
        ),
      addWorkload: async (name, spiffeId, x509Ttl = '1h') => {
        await ok(
          'entry',
          'create',
          '--spiffe-id',
          spiffeId,
          '--parent-id',
          token.agentSpiffeId,
          '--selector',
          `parley:socket:${name}`,
          '--x509-ttl',
          x509Ttl,
        );
        const socket = join(sockets, `${name}.sock`);
        await waitFor(
          `workload socket ${name}`,
          () =>
            access(socket).then(
              () => true,
              () => false,
            ),
          20_000,
          () => agent.log(),
        );
        return socket;
      },
      startSidecar: async (options) => {
        const bootstrap = mintProxyBootstrap({
          spiffeId: parseSpiffeId(options.spiffeId),
          instance: options.instance,
          agentSocket: options.socket,
          xdsAddress: { host: '127.0.0.1', port: xdsPort },
          serverId: parseSpiffeId('spiffe://example.org/parley/server'),
          adminPort: options.adminPort ?? 0,
          delta: options.delta === true,
        });
        const envoy = await startEnvoy({
          dir,
          name: options.name,
          bootstrap: toProto3Json('envoy.config.bootstrap.v3.Bootstrap', bootstrap),
          waitLive: true,
          concurrency: 1,
          logLevel: 'warn',
        });
        envoys.push(envoy);
        return envoy;
      },
      stop,
    };
  } catch (err) {
    await stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

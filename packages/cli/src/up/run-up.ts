import { rm, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { toProto3Json } from '@parley/api';
import { type Clock, ParleyError, parseSpiffeId, sleep } from '@parley/core';
import type { EntryDto, EntryPageDto, JoinTokenDto } from '@parley/identity';
import { type MeshStatus, mintProxyBootstrap } from '@parley/mesh';
import { type AdminClient, adminClient } from '../admin-client.js';
import type { CliIo } from '../command.js';
import { bundleCommand } from '../commands/bundle-command.js';
import type { DemoManifest } from './demo-manifest.js';
import { PortPicker } from './ports.js';
import { httpOk, unixSocketAccepts } from './probes.js';
import {
  type UpLayout,
  agentConfigYaml,
  commitMeshFile,
  findEdgePort,
  prepareStateDir,
  removeSockets,
  seedMeshRepo,
  serverConfigYaml,
  writeEdgePort,
} from './state-dir.js';
import { type ProcessSpec, Supervisor } from './supervisor.js';
import {
  type ComponentStatus,
  type ServiceStatus,
  type StatusDocument,
  type UpState,
  removeUpState,
  writeUpState,
} from './up-state.js';

/** The default ports of `parley up`; any that is taken is replaced by a free one (and said). */
export const UP_DEFAULT_PORTS = {
  agentApi: 8081,
  health: 8082,
  xds: 15012,
  authz: 15013,
  secrets: 8200,
  tokens: 8443,
} as const;

/** The demo `parley up` runs: none, or a folder laid out like examples/sock-shop. */
export type UpDemo =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'demo';
      readonly name: string;
      /** The demo's folder: `demo.json`, `dist/<main>` of each service, `mesh/` (the seed). */
      readonly dir: string;
      readonly manifest: DemoManifest;
    };

/** What to bring up. */
export interface UpOptions {
  readonly layout: UpLayout;
  readonly demo: UpDemo;
  readonly load: boolean;
}

/** The summary printed once everything is ready. */
export interface UpSummary {
  readonly dir: string;
  readonly demo: string;
  readonly frontEndUrl: string | undefined;
  readonly adminSocket: string;
  readonly agentSocket: string;
  readonly metricsUrl: string;
  readonly meshRepo: string;
  /** What the demo says about itself (e.g. which store backs carts-db). */
  readonly notes: readonly string[];
}

/** A progress event of `parley up` (printed in the foreground, sent to `--detach`'s parent). */
export type UpEvent =
  | { readonly type: 'note'; readonly message: string }
  | { readonly type: 'component'; readonly component: ComponentStatus }
  | { readonly type: 'ready'; readonly summary: UpSummary }
  | {
      readonly type: 'failed';
      readonly component: string;
      readonly reason: string;
      readonly log: string;
    }
  | { readonly type: 'stopped' };

/** What `runUp` needs from its process. */
export interface UpDeps {
  readonly clock: Clock;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The node binary and the `parley` entry file (to start the server and agent). */
  readonly node: string;
  readonly cliMain: string;
  /** The Envoy binary (only needed with a demo). */
  readonly envoy: string | undefined;
  /** This process's pid: the supervisor `parley down` signals. */
  readonly pid: number;
  readonly signal: AbortSignal;
  readonly progress: (event: UpEvent) => void;
  /** Where this process's own output goes (a detached supervisor's log), or '' for a terminal. */
  readonly ownLog: string;
}

/** The agent ID `parley up` attests its one agent as (a fresh join token each start). */
export const UP_AGENT_PATH = '/parley/agent/up';

interface ServicePlan {
  readonly name: string;
  readonly spiffeId: string;
  readonly socket: string;
  readonly adminPort: number;
  /** Absent for the edge. */
  readonly instance?: { readonly app: number; readonly inbound: number; readonly outbound: number };
  readonly main?: string;
  readonly env?: Readonly<Record<string, string>>;
}

/** A failure of one component while starting: its name, why, and the log to read. */
class StartFailure extends Error {
  constructor(
    readonly component: string,
    readonly reason: string,
    readonly log: string,
  ) {
    super(`${component}: ${reason}`);
  }
}

async function until(
  what: string,
  check: () => Promise<boolean>,
  ms: number,
  clock: Clock,
  signal: AbortSignal,
): Promise<void> {
  const deadline = clock.now() + ms;
  while (!(await check().catch(() => false))) {
    if (clock.now() >= deadline)
      throw new Error(`${what} did not happen within ${Math.round(ms / 1000)} s`);
    await sleep(100, signal);
  }
}

/** Runs a `parley` admin command in-process and returns what it printed. */
async function capture(
  command: { run: (args: readonly string[], io: CliIo) => Promise<number> },
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<string> {
  let out = '';
  let err = '';
  const code = await command.run(args, {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    env,
  });
  if (code !== 0)
    throw new ParleyError('internal', `parley ${args.join(' ')} failed: ${err.trim()}`);
  return out;
}

/**
 * `parley up`: prepares the state dir, starts and supervises the server, the agent, each demo
 * service behind its Envoy sidecar and the edge Envoy, reports progress, and runs until the
 * signal aborts; then stops everything in reverse order. Returns the exit code.
 */
export async function runUp(options: UpOptions, deps: UpDeps): Promise<number> {
  const { layout, demo } = options;
  const { clock, env, signal, progress } = deps;
  const note = (message: string) => progress({ type: 'note', message });
  const { fresh } = await prepareStateDir(layout);
  note(`state dir ${layout.dir} (${fresh ? 'new' : 'reused'})`);
  const trustDomain = demo.kind === 'demo' ? demo.manifest.trustDomain : 'example.org';
  const agentSpiffeId = `spiffe://${trustDomain}${UP_AGENT_PATH}`;

  const ports = new PortPicker();
  const named = async (what: string, preferred: number) => {
    const picked = await ports.pick(preferred);
    if (picked.taken) note(`port ${preferred} (${what}) is taken: using ${picked.port} instead`);
    return picked.port;
  };
  const agentApiPort = await named('agent API', UP_DEFAULT_PORTS.agentApi);
  const healthPort = await named('server health and metrics', UP_DEFAULT_PORTS.health);
  const xdsPort = await named('xDS', UP_DEFAULT_PORTS.xds);
  const authzPort = await named('authz', UP_DEFAULT_PORTS.authz);
  const secretsPort = await named('secrets', UP_DEFAULT_PORTS.secrets);
  const tokensPort = await named('tokens', UP_DEFAULT_PORTS.tokens);
  let edgePort: number | undefined;

  const services: ServiceStatus[] = [];
  let ready = false;
  const metricsUrl = `http://127.0.0.1:${healthPort}/metrics`;
  const startedAt = new Date(clock.now()).toISOString();
  const stateOf = (components: readonly ComponentStatus[]): UpState => {
    const status: StatusDocument = {
      trustDomain,
      agentSpiffeId,
      adminSocket: layout.adminSocket,
      agentSocket: layout.agentSocket,
      xdsAddress: `127.0.0.1:${xdsPort}`,
      authzAddress: `127.0.0.1:${authzPort}`,
      metricsUrl,
      // The server's SVID names localhost (not 127.0.0.1): clients verify the host name.
      secretsUrl: `https://localhost:${secretsPort}`,
      // The OAuth issuer identifier, exactly.
      tokensUrl: `https://localhost:${tokensPort}`,
      components,
      services,
    };
    return {
      version: 1,
      supervisorPid: deps.pid,
      dir: layout.dir,
      demo: demo.kind === 'none' ? 'none' : demo.name,
      startedAt,
      ready,
      status,
    };
  };
  // State file writes are serialized; the last one always reflects the latest state.
  let writing: Promise<void> = Promise.resolve();
  const save = () => {
    const state = stateOf(supervisor.statuses());
    writing = writing.then(() => writeUpState(layout.dir, state)).catch(() => undefined);
  };
  const supervisor = new Supervisor({
    clock,
    onChange: (component) => {
      progress({ type: 'component', component });
      save();
    },
  });
  save();

  const logOf = (name: string) => join(layout.logs, `${name}.log`);
  const start = async (
    spec: Omit<ProcessSpec, 'log' | 'env'> & { env?: Record<string, string> },
  ) => {
    const log = logOf(spec.name);
    const outcome = await supervisor.start({ ...spec, log, env: { ...env, ...spec.env } });
    if (!outcome.ok) throw new StartFailure(spec.name, outcome.reason, log);
  };

  try {
    // The mesh repository: seeded from the demo (the edge on a free port) or a starter config.
    let seedEdge: ((repo: string) => Promise<void>) | undefined;
    if (demo.kind === 'demo') {
      const edge = demo.manifest.edge;
      seedEdge = async (repo) => {
        const location = await findEdgePort(repo, edge.service);
        edgePort = await named('front-end', edge.port);
        if (location.port !== edgePort) await writeEdgePort(location, edgePort);
      };
    }
    const { seeded } = await seedMeshRepo(
      layout,
      demo.kind === 'demo' ? join(demo.dir, 'mesh') : undefined,
      env,
      seedEdge,
    );
    note(`mesh repository ${layout.meshRepo} (${seeded ? 'seeded' : 'kept as it is'})`);
    if (!seeded && demo.kind === 'demo') {
      // A reused repository: keep its front-end port when it is free, else move it and commit.
      const location = await findEdgePort(layout.meshRepo, demo.manifest.edge.service);
      edgePort = await named('front-end', location.port);
      if (edgePort !== location.port) {
        await writeEdgePort(location, edgePort);
        await commitMeshFile(
          layout.meshRepo,
          location.file,
          `parley up: front-end on port ${edgePort}`,
          env,
        );
      }
    }

    // The server: SQLite in server/, the mesh module watching ./mesh.
    await writeFile(
      layout.serverConfig,
      serverConfigYaml({
        trustDomain,
        agentApiPort,
        healthPort,
        xdsPort,
        authzPort,
        secretsPort,
        tokensPort,
      }),
      {
        mode: 0o600,
      },
    );
    await removeSockets(layout);
    await start({
      name: 'server',
      command: deps.node,
      args: [deps.cliMain, 'server', 'run', '--config', layout.serverConfig],
      cwd: layout.dir,
      ready: () => httpOk(`http://127.0.0.1:${healthPort}/ready`),
      readyTimeoutMs: 60_000,
    });
    const admin = adminClient(layout.adminSocket);

    // The agent: a fresh attestation each start (its SVID may have expired while stopped).
    await writeFile(
      layout.bundle,
      await capture(bundleCommand, ['show', '-o', 'pem', '--socket', layout.adminSocket], env),
    );
    const token = await admin.post<JoinTokenDto>('/v1/join-tokens', {
      spiffeId: agentSpiffeId,
      ttl: 600,
    });
    await rm(layout.agentData, { recursive: true, force: true });
    await writeFile(
      layout.agentConfig,
      agentConfigYaml({
        trustDomain,
        agentApiPort,
        xdsPort,
        authzPort,
        tokensPort,
        joinToken: token.token,
      }),
      { mode: 0o600 },
    );
    await start({
      name: 'agent',
      command: deps.node,
      args: [deps.cliMain, 'agent', 'run', '--config', layout.agentConfig],
      cwd: layout.dir,
      ready: () => unixSocketAccepts(layout.agentSocket),
      readyTimeoutMs: 30_000,
    });

    let frontEndUrl: string | undefined;
    if (demo.kind === 'demo') {
      if (deps.envoy === undefined) throw new TypeError('a demo needs the envoy binary');
      frontEndUrl = await startDemo(demo, {
        layout,
        admin,
        ports,
        agentSpiffeId,
        xdsPort,
        edgePort: edgePort ?? demo.manifest.edge.port,
        envoy: deps.envoy,
        node: deps.node,
        services,
        start,
        clock,
        signal,
        load: options.load,
        logOf,
        cancel: () => supervisor.cancel(),
      });
    }
    ready = true;
    save();
    progress({
      type: 'ready',
      summary: {
        dir: layout.dir,
        demo: demo.kind === 'none' ? 'none' : demo.name,
        frontEndUrl,
        adminSocket: layout.adminSocket,
        agentSocket: layout.agentSocket,
        metricsUrl,
        meshRepo: layout.meshRepo,
        notes: demo.kind === 'demo' ? demo.manifest.notes : [],
      },
    });
    if (!signal.aborted) {
      await new Promise<void>((resolve) =>
        signal.addEventListener('abort', () => resolve(), { once: true }),
      );
    }
    await stopAll(supervisor, layout, () => writing);
    progress({ type: 'stopped' });
    return 0;
  } catch (err) {
    await stopAll(supervisor, layout, () => writing);
    if (signal.aborted) {
      progress({ type: 'stopped' });
      return 0;
    }
    if (err instanceof StartFailure) {
      progress({ type: 'failed', component: err.component, reason: err.reason, log: err.log });
      return 1;
    }
    const message = err instanceof ParleyError || err instanceof Error ? err.message : String(err);
    progress({ type: 'failed', component: 'parley up', reason: message, log: deps.ownLog });
    return 1;
  }
}

async function stopAll(
  supervisor: Supervisor,
  layout: UpLayout,
  writing: () => Promise<void>,
): Promise<void> {
  await supervisor.stopAll();
  await writing();
  await removeSockets(layout);
  await removeUpState(layout.dir);
}

interface DemoContext {
  readonly layout: UpLayout;
  readonly admin: AdminClient;
  readonly ports: PortPicker;
  readonly agentSpiffeId: string;
  readonly xdsPort: number;
  readonly edgePort: number;
  readonly envoy: string;
  readonly node: string;
  readonly services: ServiceStatus[];
  readonly start: (
    spec: Omit<ProcessSpec, 'log' | 'env'> & { env?: Record<string, string> },
  ) => Promise<void>;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  readonly load: boolean;
  readonly logOf: (name: string) => string;
  /** Makes the starts in progress give up (after one failed). */
  readonly cancel: () => void;
}

/** Registers and starts the demo: entries, endpoints, sockets, sidecars, apps, then the edge. */
async function startDemo(
  demo: Extract<UpDemo, { kind: 'demo' }>,
  ctx: DemoContext,
): Promise<string> {
  const { layout, admin, ports, clock, signal } = ctx;
  const m = demo.manifest;
  const idOf = (name: string) => `spiffe://${m.trustDomain}${m.idPrefix}${name}`;

  // The server must serve a commit before endpoints can be registered against its Services.
  await until(
    'the mesh configuration to load',
    async () => {
      const status = await admin.get<MeshStatus>('/v1/mesh/status');
      const rejected = status.controller.lastRejected;
      if (status.controller.current === null && rejected !== null) {
        const first = rejected.problems[0];
        throw new StartFailure(
          'server',
          `the mesh repository ${layout.meshRepo} has problems${first === undefined ? '' : ` (${first.file}:${first.line}: ${first.message})`}; see parley mesh status`,
          ctx.logOf('server'),
        );
      }
      return status.controller.current !== null;
    },
    20_000,
    clock,
    signal,
  ).catch((err: unknown) => {
    if (err instanceof StartFailure) throw err;
    throw new StartFailure('server', (err as Error).message, ctx.logOf('server'));
  });

  const plans: ServicePlan[] = [];
  for (const s of m.services) {
    plans.push({
      name: s.name,
      spiffeId: idOf(s.name),
      socket: join(layout.workloads, `${s.name}.sock`),
      adminPort: await ports.any(),
      instance: { app: await ports.any(), inbound: await ports.any(), outbound: await ports.any() },
      main: join(demo.dir, 'dist', s.main),
      env: s.env,
    });
  }
  const edge: ServicePlan = {
    name: m.edge.service,
    spiffeId: idOf(m.edge.service),
    socket: join(layout.workloads, `${m.edge.service}.sock`),
    adminPort: await ports.any(),
  };
  const frontEndUrl = `http://127.0.0.1:${ctx.edgePort}`;
  for (const p of [...plans, edge]) {
    ctx.services.push({
      name: p.name,
      spiffeId: p.spiffeId,
      ...(p.instance === undefined
        ? {}
        : { app: `127.0.0.1:${p.instance.app}`, inbound: `127.0.0.1:${p.instance.inbound}` }),
      envoyAdmin: `http://127.0.0.1:${p.adminPort}`,
      socket: p.socket,
      ...(p.instance === undefined ? { url: frontEndUrl } : {}),
    });
  }

  // Entries first (each bound to its own socket), then the endpoints, then the sockets appear.
  for (const p of [...plans, edge]) await ensureEntry(admin, p, ctx.agentSpiffeId);
  for (const p of plans) {
    const i = p.instance;
    if (i === undefined) continue;
    await admin.put(`/v1/mesh/services/${encodeURIComponent(p.name)}/endpoints`, {
      endpoints: [
        {
          name: `${p.name}-0`,
          inbound: `127.0.0.1:${i.inbound}`,
          app: `127.0.0.1:${i.app}`,
          outbound: `127.0.0.1:${i.outbound}`,
        },
      ],
    });
  }
  for (const p of [...plans, edge]) {
    await until(
      `workload socket ${p.socket}`,
      () => unixSocketAccepts(p.socket),
      20_000,
      clock,
      signal,
    ).catch((err: unknown) => {
      throw new StartFailure('agent', (err as Error).message, ctx.logOf('agent'));
    });
  }

  const sidecar = async (p: ServicePlan) => {
    const bootstrap = mintProxyBootstrap({
      spiffeId: parseSpiffeId(p.spiffeId),
      ...(p.instance === undefined ? {} : { instance: `${p.name}-0` }),
      agentSocket: p.socket,
      xdsAddress: { host: '127.0.0.1', port: ctx.xdsPort },
      serverId: parseSpiffeId(`spiffe://${m.trustDomain}/parley/server`),
      adminPort: p.adminPort,
      delta: false,
    });
    const file = join(layout.envoyDir, `${p.name}.json`);
    await writeFile(
      file,
      `${JSON.stringify(toProto3Json('envoy.config.bootstrap.v3.Bootstrap', bootstrap), null, 2)}\n`,
      { mode: 0o644 },
    );
    await ctx.start({
      name: `${p.name}.envoy`,
      command: ctx.envoy,
      args: [
        '-c',
        file,
        '--use-dynamic-base-id',
        '--concurrency',
        '1',
        '--log-level',
        'warn',
        '--drain-time-s',
        '1',
      ],
      ready: () => httpOk(`http://127.0.0.1:${p.adminPort}/ready`),
      readyTimeoutMs: 30_000,
    });
  };
  // On the first failure the other starts give up; all settle before the failure is reported,
  // so every process started is known to the supervisor when it stops them.
  const settled = await Promise.allSettled(
    plans
      .map(async (p) => {
        const i = p.instance;
        if (i === undefined || p.main === undefined) return;
        await sidecar(p);
        await ctx.start({
          name: p.name,
          command: ctx.node,
          args: [p.main],
          env: {
            ...p.env,
            PORT: String(i.app),
            PARLEY_OUTBOUND: `127.0.0.1:${i.outbound}`,
            SERVICE: p.name,
            INSTANCE: `${p.name}-0`,
          },
          ready: () => httpOk(`http://127.0.0.1:${i.app}/health`),
          readyTimeoutMs: 20_000,
        });
      })
      .map((started) =>
        started.catch((err: unknown) => {
          ctx.cancel();
          throw err;
        }),
      ),
  );
  const failures = settled.flatMap((r) =>
    r.status === 'rejected'
      ? [r.reason instanceof Error ? r.reason : new Error(String(r.reason))]
      : [],
  );
  const first =
    failures.find((e) => !(e instanceof StartFailure && e.reason === 'stopped')) ?? failures[0];
  if (first !== undefined) throw first;
  await sidecar(edge);
  // The front-end answers through the edge once every route and certificate is in place.
  await until(
    `${frontEndUrl}/health`,
    () => httpOk(`${frontEndUrl}/health`),
    20_000,
    clock,
    signal,
  ).catch((err: unknown) => {
    throw new StartFailure(
      `${edge.name}.envoy`,
      (err as Error).message,
      ctx.logOf(`${edge.name}.envoy`),
    );
  });
  if (ctx.load && m.load !== undefined) {
    const main = join(demo.dir, 'dist', m.load.main);
    await access(main);
    await ctx.start({
      name: 'load',
      command: ctx.node,
      args: [main],
      env: { TARGET: frontEndUrl },
      ready: () => Promise.resolve(true),
      readyTimeoutMs: 5_000,
    });
  }
  return frontEndUrl;
}

/** Creates the workload's entry unless the same one exists (a reused state dir). */
async function ensureEntry(admin: AdminClient, p: ServicePlan, parentId: string): Promise<void> {
  const selector = `parley:socket:${p.name}`;
  const page = await admin.get<EntryPageDto>('/v1/entries', {
    spiffeId: p.spiffeId,
    parentId,
    selector,
    match: 'exact',
  });
  if (page.entries.length > 0) return;
  await admin.post<EntryDto>('/v1/entries', {
    spiffeId: p.spiffeId,
    parentId,
    selectors: [{ type: 'parley', value: `socket:${p.name}` }],
  });
}

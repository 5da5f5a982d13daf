import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { ParleyError } from '@parley/core';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

/** Where everything of one `parley up` lives inside its state dir (docs/up.md). */
export interface UpLayout {
  readonly dir: string;
  readonly serverConfig: string;
  readonly agentConfig: string;
  readonly bundle: string;
  readonly serverData: string;
  readonly agentData: string;
  readonly adminSocket: string;
  readonly agentSocket: string;
  readonly workloads: string;
  readonly meshRepo: string;
  readonly envoyDir: string;
  readonly logs: string;
}

/** The layout of the state dir `dir` (an absolute path). */
export function upLayout(dir: string): UpLayout {
  return {
    dir,
    serverConfig: join(dir, 'server.yaml'),
    agentConfig: join(dir, 'agent.yaml'),
    bundle: join(dir, 'bundle.pem'),
    serverData: join(dir, 'server'),
    agentData: join(dir, 'agent'),
    adminSocket: join(dir, 'admin.sock'),
    agentSocket: join(dir, 'agent.sock'),
    workloads: join(dir, 'workloads'),
    meshRepo: join(dir, 'mesh'),
    envoyDir: join(dir, 'envoy'),
    logs: join(dir, 'logs'),
  };
}

/** Creates the state dir (0700) and its folders, or reuses it; says whether it was new. */
export async function prepareStateDir(layout: UpLayout): Promise<{ fresh: boolean }> {
  const fresh = await stat(layout.serverData).then(
    () => false,
    () => true,
  );
  await mkdir(layout.dir, { recursive: true, mode: 0o700 });
  await chmod(layout.dir, 0o700);
  for (const d of [layout.logs, layout.envoyDir]) await mkdir(d, { recursive: true, mode: 0o700 });
  return { fresh };
}

const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'parley up',
  GIT_AUTHOR_EMAIL: 'up@parley.invalid',
  GIT_COMMITTER_NAME: 'parley up',
  GIT_COMMITTER_EMAIL: 'up@parley.invalid',
};

/** Runs git in `repo`; a failure names the git command and its first line of error. */
async function git(
  repo: string,
  env: Readonly<Record<string, string | undefined>>,
  ...args: string[]
): Promise<string> {
  try {
    const { stdout } = await run('git', ['-C', repo, ...args], {
      env: { ...env, ...GIT_IDENTITY },
    });
    return stdout;
  } catch (err) {
    const e = err as { code?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new ParleyError(
        'failed-precondition',
        'git is not installed: install it (e.g. apt-get install git)',
      );
    }
    const first = (e.stderr ?? '').split('\n').find((l) => l.trim() !== '') ?? 'failed';
    throw new ParleyError('internal', `git ${args[0] ?? ''} in ${repo}: ${first.slice(0, 200)}`);
  }
}

/** Fails fast, in one sentence, when git is missing. */
export async function checkGit(env: Readonly<Record<string, string | undefined>>): Promise<void> {
  await git('.', env, '--version');
}

const STARTER_README = `# Mesh configuration of \`parley up --demo none\`

Every *.yaml file of this Git repository is a Service, Route, TrafficPolicy or
AuthorizationPolicy (docs/mesh-config.md). Commit to \`main\`: the server applies each commit
within a second or two, or shows its problems in \`parley mesh status\`.
`;

const STARTER_MESH = `# No services yet. Add a Service (docs/mesh-config.md), for example:
#
# apiVersion: parley.dev/v1
# kind: Service
# metadata:
#   name: hello
# spec:
#   spiffeId: spiffe://example.org/hello
#   ports: [{ name: http, port: 8080 }]
`;

/**
 * Creates the mesh repository when it does not exist: a Git repo on branch `main` seeded from
 * `seed` (the demo's `mesh/` folder) or with a starter config, in one commit. An existing
 * repository is kept as it is (the user's commits are the live mesh).
 */
export async function seedMeshRepo(
  layout: UpLayout,
  seed: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  edit?: (repo: string) => Promise<void>,
): Promise<{ seeded: boolean }> {
  const exists = await stat(join(layout.meshRepo, '.git')).then(
    () => true,
    () => false,
  );
  if (exists) return { seeded: false };
  await rm(layout.meshRepo, { recursive: true, force: true });
  await mkdir(layout.meshRepo, { recursive: true, mode: 0o700 });
  if (seed === undefined) {
    await writeFile(join(layout.meshRepo, 'README.md'), STARTER_README);
    await writeFile(join(layout.meshRepo, 'mesh.yaml'), STARTER_MESH);
  } else {
    await cp(seed, layout.meshRepo, { recursive: true });
  }
  await edit?.(layout.meshRepo);
  await git(layout.meshRepo, env, 'init', '-q', '-b', 'main');
  await git(layout.meshRepo, env, 'add', '-A');
  await git(layout.meshRepo, env, 'commit', '-q', '-m', 'parley up: seed the mesh configuration');
  return { seeded: true };
}

async function yamlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await yamlFiles(full)));
    else if (e.isFile() && /\.ya?ml$/.test(e.name)) out.push(full);
  }
  return out.sort();
}

/** Where the edge Service's `spec.sidecar.outboundPort` is written in a repository. */
export interface EdgePortLocation {
  readonly file: string;
  readonly port: number;
  readonly range: readonly [number, number];
}

/** Finds the Service `service`'s `spec.sidecar.outboundPort` in the YAML files under `repo`. */
export async function findEdgePort(repo: string, service: string): Promise<EdgePortLocation> {
  for (const file of await yamlFiles(repo)) {
    for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
      if ('errors' in doc && doc.errors.length > 0) continue;
      if (doc.get('kind') !== 'Service' || doc.getIn(['metadata', 'name']) !== service) continue;
      const node = doc.getIn(['spec', 'sidecar', 'outboundPort'], true) as
        { value?: unknown; range?: [number, number, number] } | undefined;
      if (typeof node?.value === 'number' && node.range !== undefined) {
        return { file, port: node.value, range: [node.range[0], node.range[1]] };
      }
    }
  }
  throw new ParleyError(
    'failed-precondition',
    `the mesh repository ${repo} has no Service "${service}" with spec.sidecar.outboundPort (the edge's front-end port)`,
  );
}

/** Rewrites the edge's outbound port to `port` in place (comments and layout kept). */
export async function writeEdgePort(location: EdgePortLocation, port: number): Promise<void> {
  const text = await readFile(location.file, 'utf8');
  await writeFile(
    location.file,
    text.slice(0, location.range[0]) + String(port) + text.slice(location.range[1]),
  );
}

/** Commits one changed file of the mesh repository. */
export async function commitMeshFile(
  repo: string,
  file: string,
  message: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<void> {
  const path = relative(repo, file);
  await git(repo, env, 'commit', '-q', '-m', message, '--', path);
}

/** The server config `parley up` writes (SQLite in `server/`, the mesh module on). */
export function serverConfigYaml(options: {
  readonly trustDomain: string;
  readonly agentApiPort: number;
  readonly healthPort: number;
  readonly xdsPort: number;
  readonly authzPort: number;
  readonly secretsPort: number;
  readonly tokensPort: number;
}): string {
  return `# Written by parley up at each start; edit the mesh in ./mesh (git commit), not here.
trustDomain: ${options.trustDomain}
dataDir: server
agentApiAddress: 127.0.0.1:${options.agentApiPort}
adminSocket: admin.sock
healthAddress: 127.0.0.1:${options.healthPort}
mesh:
  xdsAddress: 127.0.0.1:${options.xdsPort}
  repository: mesh
  branch: main
  pollInterval: 1s
authz:
  address: 127.0.0.1:${options.authzPort}
  extAuthz: agent
secrets:
  address: 127.0.0.1:${options.secretsPort}
tokens:
  address: 127.0.0.1:${options.tokensPort}
  issuer: https://localhost:${options.tokensPort}
`;
}

/** The agent config `parley up` writes: a fresh join token, per-workload sockets, the xDS relay. */
export function agentConfigYaml(options: {
  readonly trustDomain: string;
  readonly agentApiPort: number;
  readonly xdsPort: number;
  readonly authzPort: number;
  readonly tokensPort: number;
  readonly joinToken: string;
}): string {
  return `# Written by parley up at each start (the join token is single-use).
trustDomain: ${options.trustDomain}
dataDir: agent
serverAddress: 127.0.0.1:${options.agentApiPort}
bootstrapBundleFile: bundle.pem
socketPath: agent.sock
joinToken: ${options.joinToken}
syncInterval: 1s
workloadSockets:
  dir: workloads
xdsRelay:
  serverAddress: 127.0.0.1:${options.xdsPort}
authz:
  serverAddress: 127.0.0.1:${options.authzPort}
tokenEndpoint: https://localhost:${options.tokensPort}/oauth2/token
`;
}

/** Removes the sockets a stopped mesh may leave behind (admin, agent, per-workload). */
export async function removeSockets(layout: UpLayout): Promise<void> {
  await rm(layout.adminSocket, { force: true });
  await rm(layout.agentSocket, { force: true });
  const names = await readdir(layout.workloads).catch(() => [] as string[]);
  for (const name of names)
    if (name.endsWith('.sock')) await rm(join(layout.workloads, name), { force: true });
}

import { lstat, readFile, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { ParleyError, parseSpiffeId } from '@parley/core';
import {
  type MeshStatus,
  MESH_CONFIG_LIMITS,
  type MeshConfig,
  type MeshFile,
  compileMesh,
  formatMeshProblem,
  parseMeshConfig,
  renderProxy,
} from '@parley/mesh';
import { UsageError } from '../command.js';
import { type Subcommand, commandGroup } from './command-group.js';
import { parseFlags } from '../flags.js';
import { ADMIN_FLAGS, connect, parseAdminFlags } from './admin-flags.js';
import { outputFormat, renderData, renderFields, renderTable } from './output.js';
import { authzPieces } from '../server/authz-pieces.js';
import { DEFAULT_AUTHZ_CONFIG } from '../server/server-config.js';

const TYPE_COLUMNS = [
  ['CDS', 'type.googleapis.com/envoy.config.cluster.v3.Cluster'],
  ['EDS', 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment'],
  ['LDS', 'type.googleapis.com/envoy.config.listener.v3.Listener'],
  ['RDS', 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration'],
] as const;

const short = (version: string | null | undefined) => (version ?? '-').slice(0, 12);
const when = (ms: number) => new Date(ms).toISOString();

function renderMeshStatus(status: MeshStatus): string {
  const c = status.controller;
  const fields: [string, string][] = [
    [
      'serving',
      c.current === null
        ? '(nothing yet)'
        : `${c.current.version} since ${when(c.current.appliedAt)}`,
    ],
    [
      'proxies',
      `${status.counts.proxies} connected, ${status.counts.upToDate} up to date, ${status.counts.nacking} rejecting`,
    ],
  ];
  if (c.sourceError !== null)
    fields.push(['source error', `${c.sourceError.message} (${when(c.sourceError.at)})`]);
  let text = renderFields(fields);
  if (c.lastRejected !== null) {
    text += `
rejected commit ${c.lastRejected.commit} (${when(c.lastRejected.at)}):
`;
    text += c.lastRejected.problems
      .map(
        (p) => `  ${formatMeshProblem(p)}
`,
      )
      .join('');
  }
  const rows = status.proxies.map((p) => [
    p.spiffeId,
    p.kind,
    ...TYPE_COLUMNS.map(([, url]) => {
      const t = p.types[url];
      return t === undefined
        ? '-'
        : `${short(t.lastAckedVersion)}${t.lastNack === null || t.lastAckedVersion === t.lastSentVersion ? '' : ' NACK'}`;
    }),
    p.configError ?? '',
  ]);
  text += `
${renderTable(['PROXY', 'XDS', ...TYPE_COLUMNS.map(([n]) => `${n} ACKED`), 'PROBLEM'], rows)}`;
  const nacks = status.proxies.flatMap((p) =>
    Object.entries(p.types)
      .filter(([, t]) => t.lastNack !== null && t.lastAckedVersion !== t.lastSentVersion)
      .map(
        ([
          url,
          t,
        ]) => `  ${p.spiffeId} ${url.split('.').pop() ?? url} ${short(t.lastNack?.version)}: ${t.lastNack?.message ?? ''}
`,
      ),
  );
  if (nacks.length > 0)
    text += `
rejected by proxies:
${nacks.join('')}`;
  return text;
}

/**
 * Reads every `*.yaml`/`*.yml` file under `dir` (recursively, skipping dot-directories such as
 * `.git` and symbolic links), bounded as the server bounds a commit.
 */
export async function readMeshDir(dir: string): Promise<MeshFile[]> {
  const files: MeshFile[] = [];
  let total = 0;
  const walk = async (path: string, depth: number): Promise<void> => {
    if (depth > 32) throw new ParleyError('invalid-argument', `${path}: directories nest too deep`);
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (err) {
      throw new ParleyError(
        'invalid-argument',
        `cannot read directory ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const full = join(path, e.name);
      if (e.isDirectory()) {
        if (!e.name.startsWith('.')) await walk(full, depth + 1);
        continue;
      }
      if (!e.isFile() || !/\.ya?ml$/.test(e.name)) continue;
      if (files.length >= MESH_CONFIG_LIMITS.files) {
        throw new ParleyError(
          'invalid-argument',
          `${dir} has more than ${MESH_CONFIG_LIMITS.files} YAML files`,
        );
      }
      const { size } = await lstat(full);
      if (size > MESH_CONFIG_LIMITS.fileBytes) {
        throw new ParleyError(
          'invalid-argument',
          `${full} is larger than ${MESH_CONFIG_LIMITS.fileBytes} bytes`,
        );
      }
      total += size;
      if (total > MESH_CONFIG_LIMITS.totalBytes) {
        throw new ParleyError(
          'invalid-argument',
          `${dir} holds more than ${MESH_CONFIG_LIMITS.totalBytes} bytes of YAML`,
        );
      }
      files.push({
        path: relative(dir, full).split(sep).join('/'),
        text: await readFile(full, 'utf8'),
      });
    }
  };
  await walk(dir, 0);
  return files;
}

/** Parses DIR, printing every problem (one per line) when it is not valid. */
async function load(
  dir: string,
  io: Parameters<Subcommand>[1],
): Promise<{ config: MeshConfig; files: number } | undefined> {
  const files = await readMeshDir(dir);
  const result = parseMeshConfig(files);
  if (!result.ok) {
    io.stdout(result.problems.map((p) => `${formatMeshProblem(p)}\n`).join(''));
    io.stderr(`parley: ${dir}: ${result.problems.length} problem(s)\n`);
    return undefined;
  }
  return { config: result.config, files: files.length };
}

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** `parley mesh validate DIR` and `parley mesh render DIR --node ID`, offline. */
export const MESH_SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  validate: async (args, io) => {
    const { positionals } = parseFlags(args, {}, 1);
    const dir = positionals[0];
    if (dir === undefined) throw new UsageError('mesh validate needs a directory');
    const loaded = await load(dir, io);
    if (loaded === undefined) return 1;
    const c = loaded.config;
    io.stdout(
      `valid: ${count(c.services.length, 'service')}, ${count(c.routes.length, 'route')}, ` +
        `${count(c.trafficPolicies.length, 'traffic policy').replace('policys', 'policies')}, ` +
        `${count(c.authorizationPolicies.length, 'authorization policy').replace('policys', 'policies')}, ` +
        `${count(c.secretPolicies.length, 'secret policy').replace('policys', 'policies')}, ` +
        `${count(c.tokenPolicies.length, 'token policy').replace('policys', 'policies')} ` +
        `in ${count(loaded.files, 'file')}\n`,
    );
    return 0;
  },
  render: async (args, io) => {
    const { values, positionals } = parseFlags(
      args,
      {
        node: { type: 'string' },
        instance: { type: 'string' },
        output: { type: 'string', short: 'o' },
      },
      1,
    );
    const dir = positionals[0];
    if (dir === undefined) throw new UsageError('mesh render needs a directory');
    if (values.node === undefined) throw new UsageError('mesh render needs --node SPIFFE_ID');
    let trustDomain: string;
    try {
      trustDomain = parseSpiffeId(values.node).trustDomain.name;
    } catch (err) {
      throw new UsageError(`--node: ${(err as Error).message}`);
    }
    const format = outputFormat(values.output, ['json', 'yaml'] as const, 'json');
    const loaded = await load(dir, io);
    if (loaded === undefined) return 1;
    // As a server with the default `authz:` settings would serve it (RBAC, ext_authz, JWT).
    const serverId = `spiffe://${trustDomain}/parley/server`;
    const snapshot = compileMesh(loaded.config, {
      commit: 'local',
      trustDomain,
      httpFilters: authzPieces(DEFAULT_AUTHZ_CONFIG, serverId, loaded.config),
    });
    const metadata = values.instance === undefined ? {} : { instance: values.instance };
    const result = renderProxy(snapshot, { id: values.node, metadata });
    if (!result.ok) throw new ParleyError('not-found', result.reason);
    io.stdout(renderData(format, result.rendered));
    return 0;
  },
  register: async (args, io) => {
    const { values, positionals } = parseFlags(
      args,
      { ...ADMIN_FLAGS, endpoint: { type: 'string', multiple: true } },
      1,
    );
    const service = positionals[0];
    if (service === undefined) {
      throw new UsageError('mesh register needs a SERVICE (and --endpoint, repeated)');
    }
    const endpoints = (values.endpoint ?? []).map((text) => {
      const fields = text.split(',').map((kv) => kv.split('='));
      if (fields.some((f) => f.length !== 2 || f[0] === '')) {
        throw new UsageError(`--endpoint "${text.slice(0, 80)}": use name=N,inbound=H:P,app=H:P`);
      }
      return Object.fromEntries(fields) as Record<string, string>;
    });
    const format = outputFormat(values.output, ['table', 'json', 'yaml'] as const, 'table');
    const result = await connect(values, io).put<{ version: string }>(
      `/v1/mesh/services/${encodeURIComponent(service)}/endpoints`,
      { endpoints },
    );
    io.stdout(format === 'table' ? `${result.version}\n` : renderData(format, result));
    return 0;
  },
  status: async (args, io) => {
    const { values } = parseAdminFlags(args, ADMIN_FLAGS);
    const format = outputFormat(values.output, ['table', 'json', 'yaml'] as const, 'table');
    const status = await connect(values, io).get<MeshStatus>('/v1/mesh/status');
    io.stdout(format === 'table' ? renderMeshStatus(status) : renderData(format, status));
    return 0;
  },
};

/** `parley mesh validate|render`: the mesh config, checked and compiled offline. */
export const meshCommand = commandGroup(
  'mesh',
  'mesh config: mesh validate DIR | render DIR --node ID | register SERVICE | status',
  `Usage:
  parley mesh validate DIR
      Checks every *.yaml/*.yml under DIR as the server checks a commit; prints each problem as
      file:line: field.path: message. Exit 0 when valid, 1 when not.
  parley mesh render DIR --node SPIFFE_ID [--instance NAME] [-o json|yaml]
      Prints the listeners, routes, clusters and endpoints the proxy with that SPIFFE ID (and
      node.metadata.instance NAME, when its service has several instances) would get.
  parley mesh register SERVICE [--endpoint name=N,inbound=H:P,app=H:P[,outbound=H:P]]...
      Replaces the instances registered at run time for SERVICE (none: removes them); they are
      checked like static endpoints and kept over later commits. Prints the new version.
  parley mesh status [--socket PATH] [-o table|json|yaml]
      The running server's mesh: the commit served, the last rejected commit with its problems,
      and every connected proxy with the version it ACKed per type and any NACK.
Exit codes: 0 success, 1 failed, 2 usage error.
`,
  MESH_SUBCOMMANDS,
);

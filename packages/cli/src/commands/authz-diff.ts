import { execFile, spawn } from 'node:child_process';
import {
  type DecisionChange,
  type DecisionSummary,
  type ReplayPolicies,
  diffDecisions,
  resolveWorkloads,
} from '@parley/authz';
import { ParleyError } from '@parley/core';
import {
  MESH_CONFIG_LIMITS,
  type MeshFile,
  type MeshProblem,
  formatMeshProblem,
  parseMeshConfig,
} from '@parley/mesh';
import { type CliIo, UsageError } from '../command.js';
import type { AdminClient } from '../admin-client.js';
import {
  type LoggedDecision,
  MAX_DECISIONS_LIMIT,
  parseDecisionsDto,
} from '../server/authz-decision-routes.js';
import { snapshotOf } from '../server/authz-pieces.js';
import { ADMIN_FLAGS, connect, parseAdminFlags } from './admin-flags.js';
import { cell, limitFlag, policyRule, requestCells } from './authz-log.js';
import type { Subcommand } from './command-group.js';
import { readMeshDir } from './mesh-command.js';
import { outputFormat, renderData, renderTable } from './output.js';

/** The usage text of `parley authz diff`, for the authz command's help. */
export const AUTHZ_DIFF_USAGE = `  parley authz diff [--from REV] [--to REV | --dir DIR] [--repo DIR] [--last N]
                    [--socket PATH] [-o table|json|yaml]
      Replays the last N recorded decisions (default 1000, at most ${MAX_DECISIONS_LIMIT}) under the
      policies and Services of the mesh config at --to (a revision of the config repository
      --repo, default .) or in the directory --dir (default: the working tree of --repo), and
      lists the calls whose decision (outcome, or deciding policy and rule) would change; "before"
      is the config at --from, or without it what was recorded. Requests decided before any
      policy (an end-user token rejected, a path Envoy refused) are skipped. Exit 0 with the list
      (empty when nothing changes), 1 when a config is invalid (its problems are printed).
`;

/** The default of `--last`. */
export const DEFAULT_DIFF_LAST = 1000;
/** Decisions per request to the admin API. */
const PAGE = 1000;
const GIT_TIMEOUT_MS = 60_000;
const MAX_LISTING_BYTES = 64 << 20;
const YAML_FILE = /\.ya?ml$/i;
const LS_TREE_ENTRY = /^(\d{6}) (\w+) ([0-9a-f]{40,64}) +(-|\d+)\t([\s\S]*)$/;

type Env = Readonly<Record<string, string | undefined>>;

/** A config revision's files, or the problems that stop it from being read. */
type ReadResult =
  | { readonly ok: true; readonly files: readonly MeshFile[] }
  | { readonly ok: false; readonly problems: readonly MeshProblem[] };

/** One side of the diff: where its config came from and what it decides with. */
interface Side {
  /** How the output names it: `main (0123abcd4567)`, `DIR (working tree)`. */
  readonly label: string;
  readonly source:
    { readonly revision: string; readonly commit: string } | { readonly dir: string };
}

function gitFailure(args: readonly string[], err: unknown, stderr: string): ParleyError {
  if ((err as { code?: unknown }).code === 'ENOENT') {
    return new ParleyError(
      'failed-precondition',
      'git is not installed: install it (e.g. apt-get install git)',
    );
  }
  const first = stderr.split('\n').find((l) => l.trim() !== '') ?? (err as Error).message;
  return new ParleyError(
    'unavailable',
    `git ${args[0] ?? ''} failed: ${first.trim().slice(0, 300)}`,
  );
}

function git(repo: string, env: Env, args: readonly string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['-C', repo, ...args],
      {
        encoding: 'buffer',
        maxBuffer: MAX_LISTING_BYTES,
        timeout: GIT_TIMEOUT_MS,
        env: { ...env, GIT_TERMINAL_PROMPT: '0' },
      },
      (err, stdout, stderr) => {
        if (err === null) resolve(stdout);
        else reject(gitFailure(args, err, stderr.toString('utf8')));
      },
    );
  });
}

/** The contents of `oids` (whose sizes are known), read with one `git cat-file --batch`. */
function catBlobs(
  repo: string,
  env: Env,
  blobs: readonly { readonly oid: string; readonly size: number }[],
): Promise<Buffer[]> {
  if (blobs.length === 0) return Promise.resolve([]);
  const cap = blobs.reduce((n, b) => n + b.size + 128, 0);
  const args = ['cat-file', '--batch'];
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['-C', repo, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...env, GIT_TERMINAL_PROMPT: '0' },
      timeout: GIT_TIMEOUT_MS,
    });
    const chunks: Buffer[] = [];
    let received = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > cap) child.kill();
      else chunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString('utf8');
    });
    child.stdin.on('error', () => undefined);
    child.on('error', (err) => reject(gitFailure(args, err, stderr)));
    child.on('close', (code) => {
      if (code !== 0 || received > cap) {
        reject(gitFailure(args, new Error(`exit ${String(code)}`), stderr));
        return;
      }
      const out = Buffer.concat(chunks);
      const result: Buffer[] = [];
      let at = 0;
      for (const blob of blobs) {
        const eol = out.indexOf(0x0a, at);
        const header = out.subarray(at, Math.max(eol, at)).toString('utf8').split(' ');
        if (
          eol < 0 ||
          header[0] !== blob.oid ||
          header[1] !== 'blob' ||
          Number(header[2]) !== blob.size
        ) {
          reject(new ParleyError('internal', 'unexpected git cat-file output'));
          return;
        }
        result.push(out.subarray(eol + 1, eol + 1 + blob.size));
        at = eol + 1 + blob.size + 1;
      }
      resolve(result);
    });
    child.stdin.end(blobs.map((b) => b.oid).join('\n') + '\n');
  });
}

/**
 * The YAML files of revision `rev` of the repository at `repo` (its whole tree, as the server
 * reads a commit), bounded as `parley mesh validate` bounds a directory.
 */
async function readRevision(
  repo: string,
  rev: string,
  env: Env,
): Promise<{ commit: string; read: ReadResult }> {
  await git(repo, env, ['rev-parse', '--git-dir']).catch((err: unknown) => {
    if (err instanceof ParleyError && err.code === 'failed-precondition') throw err;
    const why = err instanceof Error ? err.message.replace(/^git rev-parse failed: /, '') : '';
    throw new ParleyError('failed-precondition', `${repo} is not a Git repository: ${why}`);
  });
  const resolved = await git(repo, env, [
    'rev-parse',
    '--verify',
    '--quiet',
    '--end-of-options',
    `${rev}^{commit}`,
  ]).catch((err: unknown) => {
    if (err instanceof ParleyError && err.code === 'failed-precondition') throw err;
    throw new ParleyError(
      'not-found',
      `"${rev.slice(0, 100)}" is not a commit of the repository ${repo}`,
    );
  });
  const commit = resolved.toString('utf8').trim();
  if (!/^[0-9a-f]{40,64}$/.test(commit)) {
    throw new ParleyError(
      'not-found',
      `"${rev.slice(0, 100)}" is not a commit of the repository ${repo}`,
    );
  }
  const problem = (message: string, file = '.'): { commit: string; read: ReadResult } => ({
    commit,
    read: { ok: false, problems: [{ file, line: 0, path: '', message }] },
  });
  const listing = await git(repo, env, ['ls-tree', '-r', '-z', '-l', '--full-tree', commit]);
  const blobs: { path: string; oid: string; size: number }[] = [];
  let total = 0;
  for (const entry of listing.toString('utf8').split('\0')) {
    if (entry === '') continue;
    const m = LS_TREE_ENTRY.exec(entry);
    if (m === null) throw new ParleyError('internal', 'unexpected git ls-tree output');
    const [, mode = '', type = '', oid = '', size = '', path = ''] = m;
    // Regular files only: symbolic links and submodules are not config (as the server reads).
    if (type !== 'blob' || !(mode === '100644' || mode === '100755') || !YAML_FILE.test(path))
      continue;
    const bytes = Number(size);
    if (bytes > MESH_CONFIG_LIMITS.fileBytes) {
      return problem(`is ${bytes} bytes, more than ${MESH_CONFIG_LIMITS.fileBytes}`, path);
    }
    total += bytes;
    blobs.push({ path, oid, size: bytes });
    if (blobs.length > MESH_CONFIG_LIMITS.files) {
      return problem(`has more than ${MESH_CONFIG_LIMITS.files} YAML files`);
    }
    if (total > MESH_CONFIG_LIMITS.totalBytes) {
      return problem(`holds more than ${MESH_CONFIG_LIMITS.totalBytes} bytes of YAML`);
    }
  }
  const contents = await catBlobs(repo, env, blobs);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const files: MeshFile[] = [];
  const problems: MeshProblem[] = [];
  blobs.forEach((b, i) => {
    try {
      files.push({ path: b.path, text: decoder.decode(contents[i]) });
    } catch {
      problems.push({ file: b.path, line: 0, path: '', message: 'is not valid UTF-8' });
    }
  });
  if (problems.length > 0) return { commit, read: { ok: false, problems } };
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { commit, read: { ok: true, files } };
}

// eslint-disable-next-line no-control-regex -- control characters are what is refused
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** A revision flag's value: a name git resolves, never an option. */
function revisionFlag(flag: string, value: string): string {
  if (
    value === '' ||
    value.startsWith('-') ||
    value.length > 256 ||
    CONTROL_CHARACTER.test(value)
  ) {
    throw new UsageError(`--${flag} must name a revision (e.g. main, HEAD~1, a commit)`);
  }
  return value;
}

/** The policies of one side, or undefined after printing its problems (the config is invalid). */
function loadSide(side: Side, files: ReadResult, io: CliIo): ReplayPolicies | undefined {
  const parsed = files.ok ? parseMeshConfig(files.files) : files;
  if (!parsed.ok) {
    io.stdout(parsed.problems.map((p) => `${side.label}: ${formatMeshProblem(p)}\n`).join(''));
    io.stderr(`parley: ${side.label}: ${parsed.problems.length} problem(s) in its mesh config\n`);
    return undefined;
  }
  const version = 'commit' in side.source ? side.source.commit : side.source.dir;
  const snapshot = snapshotOf(version, parsed.config);
  return { policySet: snapshot.policySet, resolve: resolveWorkloads(snapshot.workloads) };
}

/** The last `last` decisions of the log, newest first, a page at a time. */
async function fetchDecisions(client: AdminClient, last: number): Promise<LoggedDecision[]> {
  const out: LoggedDecision[] = [];
  let before: number | undefined;
  while (out.length < last) {
    const want = Math.min(PAGE, last - out.length);
    const page = parseDecisionsDto(
      await client.get<unknown>('/v1/authz/decisions', {
        limit: String(want),
        before: before === undefined ? undefined : String(before),
      }),
    );
    for (const d of page) {
      // Each page continues below the last: a server that did otherwise would make this endless.
      if (before !== undefined && d.seq >= before) {
        throw new ParleyError('internal', 'the admin API returned decisions out of order');
      }
      before = d.seq;
      out.push(d);
    }
    if (page.length < want) break;
  }
  return out;
}

const summary = (s: DecisionSummary): string =>
  s.policy === undefined ? s.outcome : `${s.outcome} ${policyRule(s)}`;

function renderChanges(
  before: string,
  after: string,
  diff: { replayed: number; skipped: number; changes: readonly DecisionChange<LoggedDecision>[] },
): string {
  const skipped = diff.skipped === 0 ? '' : `, ${diff.skipped} skipped (decided before any policy)`;
  const head =
    `replayed ${diff.replayed} recorded decision(s)${skipped}\n` +
    `before: ${before}\nafter:  ${after}\n${diff.changes.length} change(s)\n`;
  return `${head}${renderTable(
    ['TIME', 'REQUEST ID', 'SOURCE', 'DESTINATION', 'METHOD', 'PATH', 'BEFORE', 'AFTER', 'WHY'],
    diff.changes.map((c) => [
      new Date(c.record.at).toISOString(),
      cell(c.record.requestId),
      ...requestCells(c.record),
      cell(summary(c.before)),
      cell(summary(c.after)),
      cell(c.after.why),
    ]),
  )}`;
}

/** `parley authz diff`: the recorded calls whose decision a policy change would change. */
export const authzDiff: Subcommand = async (args, io) => {
  const { values } = parseAdminFlags(args, {
    ...ADMIN_FLAGS,
    from: { type: 'string' },
    to: { type: 'string' },
    dir: { type: 'string' },
    repo: { type: 'string' },
    last: { type: 'string' },
  });
  const format = outputFormat(values.output, ['table', 'json', 'yaml'] as const, 'table');
  if (values.to !== undefined && values.dir !== undefined) {
    throw new UsageError('authz diff takes --to REV or --dir DIR, not both');
  }
  const from = values.from === undefined ? undefined : revisionFlag('from', values.from);
  const to = values.to === undefined ? undefined : revisionFlag('to', values.to);
  if (values.repo === '' || values.dir === '') {
    throw new UsageError('--repo and --dir must name a directory');
  }
  const repo = values.repo ?? '.';
  const last = values.last === undefined ? DEFAULT_DIFF_LAST : limitFlag('last', values.last);

  // Both configs are read and checked before the server is asked for anything.
  const readSide = async (rev: string): Promise<[Side, ReadResult]> => {
    const { commit, read } = await readRevision(repo, rev, io.env);
    return [{ label: `${rev} (${commit.slice(0, 12)})`, source: { revision: rev, commit } }, read];
  };
  const readDir = async (dir: string): Promise<[Side, ReadResult]> => [
    { label: `${dir} (working tree)`, source: { dir } },
    { ok: true, files: await readMeshDir(dir) },
  ];
  // Neither --to nor --dir: the working tree of the repository.
  const [toSide, toFiles] =
    to !== undefined ? await readSide(to) : await readDir(values.dir ?? repo);
  const fromRead = from === undefined ? undefined : await readSide(from);
  const fromPolicies = fromRead === undefined ? 'recorded' : loadSide(fromRead[0], fromRead[1], io);
  const toPolicies = loadSide(toSide, toFiles, io);
  if (fromPolicies === undefined || toPolicies === undefined) return 1;

  const records = await fetchDecisions(connect(values, io), last);
  const diff = diffDecisions(records, fromPolicies, toPolicies);
  const beforeLabel = fromRead === undefined ? 'the recorded decisions' : fromRead[0].label;
  io.stdout(
    format === 'table'
      ? renderChanges(beforeLabel, toSide.label, diff)
      : renderData(format, {
          from: fromRead === undefined ? 'recorded' : fromRead[0].source,
          to: toSide.source,
          replayed: diff.replayed,
          skipped: diff.skipped,
          changes: diff.changes,
        }),
  );
  return 0;
};

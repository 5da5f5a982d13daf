import { execFile, spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Duration, ParleyError, durationMs, invalidArgument, sleep } from '@parley/core';
import type { ConfigProblem } from '../status/mesh-status.js';

/** One commit's YAML files, or why they were not read (too many, too large, not UTF-8). */
export type GitCommit =
  | { readonly ok: true; readonly commit: string; readonly files: readonly GitFile[] }
  | { readonly ok: false; readonly commit: string; readonly problems: readonly ConfigProblem[] };

/** A YAML file of a commit: its path in the repository and its text. */
export interface GitFile {
  readonly path: string;
  readonly text: string;
}

/** Bounds on what one commit may hold; a commit past them is refused, not read. */
export interface GitSourceLimits {
  readonly maxFiles: number;
  readonly maxFileBytes: number;
  readonly maxTotalBytes: number;
}

/** Default bounds: far above a mesh config repo, far below what would hurt the server. */
export const DEFAULT_GIT_SOURCE_LIMITS: GitSourceLimits = {
  maxFiles: 2000,
  maxFileBytes: 1024 * 1024,
  maxTotalBytes: 32 * 1024 * 1024,
};

/** Default poll interval of the branch. */
export const DEFAULT_GIT_POLL_INTERVAL: Duration = durationMs(2000);

/** Where the source lives and how it is watched. */
export interface GitSourceOptions {
  /** A local repository path, or a remote URL (cloned bare under `dataDir`). */
  readonly repository: string;
  readonly branch: string;
  /** Directory for the bare clone of a remote repository. */
  readonly dataDir: string;
  readonly pollInterval?: Duration;
  readonly limits?: GitSourceLimits;
  /** The git executable (default `git` on the PATH). */
  readonly git?: string;
  /** Environment of git processes (the composition root passes its own). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** What the source hands its commits and failures to (the mesh controller). */
export interface GitSourceDeps {
  readonly onCommit: (commit: GitCommit) => void;
  /** The repository could not be read (fetch failed, branch missing); retried next poll. */
  readonly onError: (message: string) => void;
}

const GIT_TIMEOUT_MS = 120_000;
const MAX_LISTING_BYTES = 64 * 1024 * 1024;
const YAML_FILE = /\.ya?ml$/i;
const BRANCH = /^(?!-)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9._/-]{1,200}$/;
const LS_TREE_ENTRY = /^(\d{6}) (\w+) ([0-9a-f]{40,64}) +(-|\d+)\t([\s\S]*)$/;

/** True when `repository` names a remote (a URL or scp-like `user@host:path`), not a local path. */
export function isRemoteRepository(repository: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repository) || /^[^/\s]+@[^/\s:]+:/.test(repository);
}

/** Removes credentials from URLs inside a message (git echoes remote URLs in its errors). */
function redact(message: string): string {
  return message.replace(/(\/\/)[^/@\s]+@/g, '$1***@').slice(0, 2000);
}

/**
 * Watches one branch of a Git repository with the `git` CLI: every new commit of the branch is
 * read (YAML files only, within bounds) and handed over whole, its SHA as its version.
 */
export class GitSource {
  readonly #options: GitSourceOptions;
  readonly #deps: GitSourceDeps;
  readonly #remote: boolean;
  readonly #limits: GitSourceLimits;
  #gitDir: string | undefined;
  #lastCommit: string | undefined;

  constructor(options: GitSourceOptions, deps: GitSourceDeps) {
    if (!BRANCH.test(options.branch))
      throw invalidArgument(
        `mesh config branch "${options.branch.slice(0, 200)}" is not a valid branch name`,
      );
    if (options.repository === '' || options.repository.startsWith('-'))
      throw invalidArgument('mesh config repository must be a path or a URL');
    this.#options = options;
    this.#deps = deps;
    this.#remote = isRemoteRepository(options.repository);
    this.#limits = options.limits ?? DEFAULT_GIT_SOURCE_LIMITS;
  }

  /** Polls the branch until `signal` aborts; read failures are reported and retried. */
  async run(signal: AbortSignal): Promise<void> {
    const interval = this.#options.pollInterval ?? DEFAULT_GIT_POLL_INTERVAL;
    while (!signal.aborted) {
      try {
        await this.poll(signal);
      } catch (err) {
        if (signal.aborted) return;
        this.#deps.onError(err instanceof Error ? redact(err.message) : String(err));
      }
      try {
        await sleep(interval, signal);
      } catch {
        return;
      }
    }
  }

  /** Checks the branch once (fetching a remote first) and hands over its commit if it is new. */
  async poll(signal?: AbortSignal): Promise<void> {
    const gitDir = await this.#prepare(signal);
    const notFound = () =>
      new ParleyError('failed-precondition', `branch ${this.#options.branch} not found`);
    const ref = `refs/heads/${this.#options.branch}^{commit}`;
    const commit = (
      await this.#git(gitDir, ['rev-parse', '--verify', '--quiet', ref], signal).catch(
        (err: unknown) => {
          throw signal?.aborted === true ? err : notFound();
        },
      )
    )
      .toString('utf8')
      .trim();
    if (!/^[0-9a-f]{40,64}$/.test(commit)) throw notFound();
    if (commit === this.#lastCommit) return;
    const read = await this.#readCommit(gitDir, commit, signal);
    this.#lastCommit = commit;
    this.#deps.onCommit(read);
  }

  async #prepare(signal: AbortSignal | undefined): Promise<string> {
    if (!this.#remote) return this.#options.repository;
    const dir = join(this.#options.dataDir, 'mesh-config.git');
    if (this.#gitDir === undefined) {
      const exists = await stat(join(dir, 'HEAD')).then(
        () => true,
        () => false,
      );
      if (!exists) {
        await this.#git(
          undefined,
          [
            'clone',
            '--bare',
            '--quiet',
            '--single-branch',
            '--branch',
            this.#options.branch,
            '--',
            this.#options.repository,
            dir,
          ],
          signal,
        );
      } else {
        await this.#git(
          dir,
          ['remote', 'set-url', 'origin', '--', this.#options.repository],
          signal,
        );
      }
      this.#gitDir = dir;
    }
    const ref = `refs/heads/${this.#options.branch}`;
    await this.#git(
      dir,
      ['fetch', '--quiet', '--prune', '--no-tags', 'origin', `+${ref}:${ref}`],
      signal,
    );
    return dir;
  }

  async #readCommit(
    gitDir: string,
    commit: string,
    signal: AbortSignal | undefined,
  ): Promise<GitCommit> {
    const reject = (message: string, file = ''): GitCommit => ({
      ok: false,
      commit,
      problems: [{ file, line: 0, path: '', message }],
    });
    let listing: Buffer;
    try {
      listing = await this.#git(
        gitDir,
        ['ls-tree', '-r', '-z', '-l', '--full-tree', commit],
        signal,
      );
    } catch (err) {
      if (err instanceof ParleyError && err.code === 'resource-exhausted')
        return reject(`the commit's tree listing exceeds ${MAX_LISTING_BYTES} bytes`);
      throw err;
    }
    const blobs: { path: string; oid: string; size: number }[] = [];
    let total = 0;
    for (const entry of listing.toString('utf8').split('\0')) {
      if (entry === '') continue;
      const m = LS_TREE_ENTRY.exec(entry);
      if (m === null) throw new ParleyError('internal', 'unexpected git ls-tree output');
      const [, mode, type, oid, size, path] = m as unknown as [
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      // Regular files only: symlinks and submodules are not config.
      if (type !== 'blob' || !(mode === '100644' || mode === '100755') || !YAML_FILE.test(path))
        continue;
      const bytes = Number(size);
      if (bytes > this.#limits.maxFileBytes)
        return reject(
          `file is ${bytes} bytes, more than the limit of ${this.#limits.maxFileBytes}`,
          path,
        );
      total += bytes;
      blobs.push({ path, oid, size: bytes });
      if (blobs.length > this.#limits.maxFiles)
        return reject(`the commit has more than ${this.#limits.maxFiles} YAML files`);
      if (total > this.#limits.maxTotalBytes)
        return reject(
          `the commit's YAML files exceed ${this.#limits.maxTotalBytes} bytes in total`,
        );
    }
    const contents = await this.#catBlobs(gitDir, blobs, total, signal);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const files: GitFile[] = [];
    const problems: ConfigProblem[] = [];
    blobs.forEach((b, i) => {
      try {
        files.push({ path: b.path, text: decoder.decode(contents[i]) });
      } catch {
        problems.push({ file: b.path, line: 0, path: '', message: 'file is not valid UTF-8' });
      }
    });
    if (problems.length > 0) return { ok: false, commit, problems };
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { ok: true, commit, files };
  }

  /** Reads blobs with one `git cat-file --batch`; their sizes were checked from the listing. */
  #catBlobs(
    gitDir: string,
    blobs: readonly { oid: string; size: number }[],
    total: number,
    signal: AbortSignal | undefined,
  ): Promise<Buffer[]> {
    if (blobs.length === 0) return Promise.resolve([]);
    const cap = total + blobs.length * 128;
    return new Promise((resolve, reject) => {
      const child = spawn(this.#options.git ?? 'git', ['-C', gitDir, 'cat-file', '--batch'], {
        stdio: ['pipe', 'pipe', 'pipe'],
        ...(this.#options.env !== undefined ? { env: this.#env() } : {}),
        ...(signal !== undefined ? { signal } : {}),
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
      child.on('error', (err) =>
        reject(new ParleyError('unavailable', `git cat-file failed: ${err.message}`)),
      );
      child.on('close', (code) => {
        if (code !== 0 || received > cap)
          return reject(
            new ParleyError(
              'unavailable',
              `git cat-file failed: ${redact(stderr.trim()) || `exit ${String(code)}`}`,
            ),
          );
        const out = Buffer.concat(chunks);
        const result: Buffer[] = [];
        let at = 0;
        for (const blob of blobs) {
          const eol = out.indexOf(0x0a, at);
          const header = out.subarray(at, eol).toString('utf8').split(' ');
          if (
            eol < 0 ||
            header[0] !== blob.oid ||
            header[1] !== 'blob' ||
            Number(header[2]) !== blob.size
          )
            return reject(new ParleyError('internal', 'unexpected git cat-file output'));
          result.push(out.subarray(eol + 1, eol + 1 + blob.size));
          at = eol + 1 + blob.size + 1;
        }
        resolve(result);
      });
      child.stdin.end(blobs.map((b) => b.oid).join('\n') + '\n');
    });
  }

  #env(): Record<string, string | undefined> {
    return { ...this.#options.env, GIT_TERMINAL_PROMPT: '0' };
  }

  #git(
    gitDir: string | undefined,
    args: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<Buffer> {
    const argv = gitDir === undefined ? [...args] : ['-C', gitDir, ...args];
    return new Promise((resolve, reject) => {
      execFile(
        this.#options.git ?? 'git',
        argv,
        {
          encoding: 'buffer',
          maxBuffer: MAX_LISTING_BYTES,
          timeout: GIT_TIMEOUT_MS,
          ...(this.#options.env !== undefined ? { env: this.#env() } : {}),
          ...(signal !== undefined ? { signal } : {}),
        },
        (err, stdout, stderr) => {
          if (err === null) return resolve(stdout);
          if ((err as { code?: unknown }).code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER')
            return reject(
              new ParleyError('resource-exhausted', `git ${args[0] ?? ''} printed too much`),
            );
          const detail = stderr.toString('utf8').trim() || err.message;
          reject(new ParleyError('unavailable', `git ${args[0] ?? ''} failed: ${redact(detail)}`));
        },
      );
    });
  }
}

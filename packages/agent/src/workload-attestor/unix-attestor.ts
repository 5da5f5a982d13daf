import { type ObjectReader, ParleyError } from '@parley/core';
import { readFile, readlink } from 'node:fs/promises';
import { ExecutableHasher } from './executable-hasher.js';
import type { Selector } from './selector.js';
import { type UnixAccountFiles, UnixAccounts } from './unix-accounts.js';
import type { WorkloadAttestation, WorkloadAttestor, WorkloadPeer } from './workload-attestor.js';

/** The `unix` workload attestor's settings (SPIRE's `discover_workload_path`, `workload_size_limit`). */
export interface UnixAttestorConfig {
  /** Also emit `path` and `sha256` selectors of the caller's executable; false by default. */
  readonly discoverWorkloadPath: boolean;
  /** Largest executable hashed for `sha256`, in bytes (512 MiB by default); -1: no `sha256`. */
  readonly workloadSizeLimit: number;
}

/** The default size limit for hashing executables: 512 MiB. */
export const DEFAULT_WORKLOAD_SIZE_LIMIT = 512 * 1024 * 1024;

/** Reads the `unix` attestor's config object (every field optional). */
export function readUnixAttestorConfig(reader: ObjectReader): UnixAttestorConfig {
  const discoverWorkloadPath = reader.boolean('discoverWorkloadPath', false);
  const workloadSizeLimit = reader.integer(
    'workloadSizeLimit',
    DEFAULT_WORKLOAD_SIZE_LIMIT,
    -1,
    Number.MAX_SAFE_INTEGER,
  );
  if (workloadSizeLimit === 0) {
    // SPIRE reads 0 as "no limit"; Parley always bounds the read.
    reader.problem('workloadSizeLimit', 'must be a number of bytes, or -1 for no sha256 selector');
  }
  return { discoverWorkloadPath, workloadSizeLimit };
}

/** What the `unix` attestor reads; the real system's files by default, temp files in tests. */
export interface UnixAttestorDeps extends UnixAccountFiles {
  /** Where procfs is mounted; `/proc` by default. */
  readonly procRoot?: string;
  /** A shared digest cache; one of `workloadSizeLimit` is made when absent. */
  readonly hasher?: ExecutableHasher;
}

/**
 * The `unix` workload attestor (SPIRE's selectors): `uid`, `user`, `gid`, `group` from the peer
 * credentials, `supplementary_gid`/`supplementary_group` from `/proc/<pid>/status`, and with
 * `discoverWorkloadPath` the executable's `path` and `sha256` from `/proc/<pid>/exe`.
 */
export class UnixAttestor implements WorkloadAttestor {
  readonly type = 'unix';
  readonly #config: UnixAttestorConfig;
  readonly #proc: string;
  readonly #accounts: UnixAccounts;
  readonly #hasher: ExecutableHasher | undefined;

  constructor(config: UnixAttestorConfig, deps: UnixAttestorDeps = {}) {
    this.#config = config;
    this.#proc = deps.procRoot ?? '/proc';
    this.#accounts = new UnixAccounts(deps);
    this.#hasher =
      config.workloadSizeLimit < 0
        ? undefined
        : (deps.hasher ?? new ExecutableHasher({ sizeLimit: config.workloadSizeLimit }));
  }

  async attest(peer: WorkloadPeer): Promise<WorkloadAttestation> {
    const { pid } = peer;
    if (!Number.isSafeInteger(pid) || pid <= 0) {
      return { ok: false, reason: 'the caller has no pid visible to the agent' };
    }
    const selectors: Selector[] = [];
    const add = (value: string) => selectors.push({ type: 'unix', value });
    try {
      const [user, group, supplementary] = await Promise.all([
        this.#accounts.userName(peer.uid),
        this.#accounts.groupName(peer.gid),
        this.#supplementaryGroups(pid),
      ]);
      add(`uid:${peer.uid}`);
      if (user !== undefined) add(`user:${user}`);
      add(`gid:${peer.gid}`);
      if (group !== undefined) add(`group:${group}`);
      for (const gid of supplementary) {
        add(`supplementary_gid:${gid}`);
        const name = await this.#accounts.groupName(gid);
        if (name !== undefined) add(`supplementary_group:${name}`);
      }
      if (this.#config.discoverWorkloadPath) {
        const exe = `${this.#proc}/${pid}/exe`;
        add(`path:${await readlink(exe)}`);
        if (this.#hasher !== undefined) {
          const digest = await this.#hasher.sha256(exe);
          if (!digest.ok) return digest;
          add(`sha256:${digest.sha256}`);
        }
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ESRCH') {
        return { ok: false, reason: `process ${pid} exited during attestation` };
      }
      if (error instanceof ParleyError) throw error;
      throw new ParleyError('internal', `unix attestation of process ${pid} failed (${code})`, {
        cause: error,
      });
    }
    return { ok: true, selectors };
  }

  async #supplementaryGroups(pid: number): Promise<number[]> {
    const status = await readFile(`${this.#proc}/${pid}/status`, 'utf8');
    const line = status.split('\n').find((l) => l.startsWith('Groups:'));
    if (line === undefined) return [];
    return line
      .slice('Groups:'.length)
      .trim()
      .split(/\s+/)
      .filter((g) => /^\d+$/.test(g))
      .map(Number);
  }
}

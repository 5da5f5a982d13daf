import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ParleyError } from '@parley/core';

/** A supervised component's state (DESIGN §4). */
export type ComponentState = 'starting' | 'ready' | 'restarting' | 'failed';

/** One supervised process as `parley status` reports it. */
export interface ComponentStatus {
  readonly name: string;
  readonly state: ComponentState;
  /** The running process, or null while it is being restarted. */
  readonly pid: number | null;
  readonly restarts: number;
  /** Absolute path of its log file. */
  readonly log: string;
  /** Why it failed or was last restarted, when it did. */
  readonly reason?: string;
}

/** One demo service (or the edge) as `parley status` reports it. */
export interface ServiceStatus {
  readonly name: string;
  readonly spiffeId: string;
  /** `host:port` the app listens on (absent for the edge, which has no app). */
  readonly app?: string;
  /** `host:port` of its sidecar's mTLS listener (absent for the edge). */
  readonly inbound?: string;
  /** URL of its Envoy's admin interface (loopback). */
  readonly envoyAdmin: string;
  /** Its per-workload agent socket. */
  readonly socket: string;
  /** Set for what is reachable without an SVID: the edge in front of the front-end. */
  readonly url?: string;
}

/** `parley status -o json`: the endpoints of the running local mesh (DESIGN §4). */
export interface StatusDocument {
  readonly trustDomain: string;
  readonly agentSpiffeId: string;
  readonly adminSocket: string;
  readonly agentSocket: string;
  readonly xdsAddress: string;
  /** The server's authz listener (ext_authz Check, policy stream, decision log; mTLS). */
  readonly authzAddress: string;
  readonly metricsUrl: string;
  /** The secrets API (Vault KV v2 paths under `/v1`, mount `secret`; HTTPS with the server's SVID). */
  readonly secretsUrl: string;
  /** The OAuth authorization server: exactly its `issuer` (metadata under `/.well-known/`). */
  readonly tokensUrl: string;
  readonly components: readonly ComponentStatus[];
  readonly services: readonly ServiceStatus[];
}

/**
 * `<dir>/up.json`: what the supervisor of `parley up` keeps up to date while it runs (rewritten
 * atomically on every change, removed when it stops) and `parley status`/`parley down` read.
 */
export interface UpState {
  readonly version: 1;
  /** The process supervising the components: `parley down` signals it. */
  readonly supervisorPid: number;
  readonly dir: string;
  readonly demo: string;
  /** ISO time the supervisor started. */
  readonly startedAt: string;
  /** True once every component was ready for the first time. */
  readonly ready: boolean;
  readonly status: StatusDocument;
}

/** The state dir `parley up`, `down` and `status` use when `--dir` is not given. */
export const DEFAULT_UP_DIR = '.parley';

/** The state file's name inside the state dir. */
export const UP_STATE_FILE = 'up.json';

/** Writes the state file atomically (mode 0600): readers never see half a file. */
export async function writeUpState(dir: string, state: UpState): Promise<void> {
  const file = join(dir, UP_STATE_FILE);
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

/** Removes the state file (and a leftover temporary one). */
export async function removeUpState(dir: string): Promise<void> {
  await rm(join(dir, UP_STATE_FILE), { force: true });
  await rm(join(dir, `${UP_STATE_FILE}.tmp`), { force: true });
}

/** Reads the state file: undefined when there is none; an error when it is not Parley's. */
export async function readUpState(dir: string): Promise<UpState | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, UP_STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ParleyError('unavailable', `cannot read ${join(dir, UP_STATE_FILE)}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ParleyError('invalid-argument', `${join(dir, UP_STATE_FILE)} is not JSON`);
  }
  const s = parsed as Partial<UpState> | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    s.version !== 1 ||
    !Number.isSafeInteger(s.supervisorPid) ||
    typeof s.status !== 'object' ||
    s.status === null ||
    !Array.isArray(s.status.components) ||
    !Array.isArray(s.status.services)
  ) {
    throw new ParleyError(
      'invalid-argument',
      `${join(dir, UP_STATE_FILE)} is not a parley up state file (version 1)`,
    );
  }
  return s as UpState;
}

/** Every pid the state file names: the supervisor's and each component's. */
export function pidsOf(state: UpState): number[] {
  return [
    state.supervisorPid,
    ...state.status.components.flatMap((c) => (c.pid === null ? [] : [c.pid])),
  ];
}

import { readFileSync } from 'node:fs';
import { sleep } from '@parley/core';
import { isAlive } from './probes.js';
import { type UpLayout, removeSockets } from './state-dir.js';
import { type UpState, removeUpState } from './up-state.js';

/**
 * True when `pid` still looks like one of ours (a node or envoy process) — guards against
 * signalling an unrelated process that reused the pid of a component long gone. Where /proc is
 * not available, any live pid is taken as ours.
 */
function looksLikeOurs(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /node|envoy/.test(cmdline);
  } catch {
    return true;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

async function waitGone(pids: readonly number[], ms: number): Promise<number[]> {
  const deadline = performance.now() + ms;
  let left = pids.filter(isAlive);
  while (left.length > 0 && performance.now() < deadline) {
    await sleep(100);
    left = left.filter(isAlive);
  }
  return left;
}

/** What `stopUp` did: the pids it had to kill because they outlived the supervisor. */
export interface StopResult {
  readonly killed: readonly number[];
  /** Pids still alive after SIGKILL (should be none). */
  readonly left: readonly number[];
}

/**
 * Stops a running `parley up`: SIGTERM to its supervisor (which stops its components in reverse
 * order, removes its sockets and the state file), waits, then kills any component left over and
 * removes what a dead supervisor left behind.
 */
export async function stopUp(
  state: UpState,
  layout: UpLayout,
  timeoutMs = 30_000,
): Promise<StopResult> {
  const supervisor = state.supervisorPid;
  if (isAlive(supervisor)) {
    signal(supervisor, 'SIGTERM');
    const left = await waitGone([supervisor], timeoutMs);
    if (left.length > 0) signal(supervisor, 'SIGKILL');
  }
  return cleanUpStale(state, layout);
}

/** Kills the components a dead supervisor left running and removes its sockets and state file. */
export async function cleanUpStale(state: UpState, layout: UpLayout): Promise<StopResult> {
  const pids = state.status.components.flatMap((c) => (c.pid === null ? [] : [c.pid]));
  const killed = pids.filter(looksLikeOurs);
  for (const pid of killed) signal(pid, 'SIGTERM');
  let left = await waitGone(killed, 5_000);
  for (const pid of left) signal(pid, 'SIGKILL');
  left = await waitGone(left, 5_000);
  await removeSockets(layout);
  await removeUpState(layout.dir);
  return { killed, left };
}

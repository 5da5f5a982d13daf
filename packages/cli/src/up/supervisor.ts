import { type ChildProcess, spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { type Clock, sleep } from '@parley/core';
import type { ComponentStatus } from './up-state.js';

/** A process the supervisor runs: how to start it and how to tell that it is ready. */
export interface ProcessSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** The whole environment of the process. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** Its stdout and stderr are appended to this file. */
  readonly log: string;
  /** Resolves true once the process serves (polled every 100 ms while it starts). */
  readonly ready: () => Promise<boolean>;
  readonly readyTimeoutMs: number;
}

/** How a first start ended: ready, or failed with the reason (the process is then stopped). */
export type StartOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Restart backoff: the first delay, the cap, and how long a run must last to reset it. */
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly resetAfterMs: number;
}

/** The restart policy of `parley up`: 1 s, 2 s, 4 s… up to 30 s; reset after 60 s of running. */
export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 1000,
  maxMs: 30_000,
  resetAfterMs: 60_000,
};

/** What the supervisor needs: a clock, where to report changes, and its backoff. */
export interface SupervisorDeps {
  readonly clock: Clock;
  /** Called on every state change of a component (progress, the state file). */
  readonly onChange: (component: ComponentStatus) => void;
  readonly backoff?: BackoffPolicy;
  /** How long a process may take to exit after SIGTERM before it is killed (default 10 s). */
  readonly stopTimeoutMs?: number;
}

interface Managed {
  readonly spec: ProcessSpec;
  status: ComponentStatus;
  child: ChildProcess | undefined;
  readySince: number;
  nextDelayMs: number;
  restarting: Promise<void> | undefined;
}

const POLL_MS = 100;

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function exitReason(child: ChildProcess): string {
  return child.signalCode !== null
    ? `killed by ${child.signalCode}`
    : `exited with code ${child.exitCode ?? 'unknown'}`;
}

/**
 * Runs processes, each in its own process group (so a terminal's Ctrl-C reaches only the
 * supervisor, which stops them in reverse order), restarts one that exits with exponential
 * backoff, and reports every state change.
 */
export class Supervisor {
  readonly #deps: SupervisorDeps;
  readonly #backoff: BackoffPolicy;
  readonly #managed: Managed[] = [];
  readonly #stop = new AbortController();

  constructor(deps: SupervisorDeps) {
    this.#deps = deps;
    this.#backoff = deps.backoff ?? DEFAULT_BACKOFF;
  }

  /** The components started so far, in start order. */
  statuses(): ComponentStatus[] {
    return this.#managed.map((m) => m.status);
  }

  /**
   * Starts `spec` and waits until it is ready. On failure the process is stopped, its state is
   * `failed` and the reason is returned; once ready, it is restarted whenever it exits.
   */
  async start(spec: ProcessSpec): Promise<StartOutcome> {
    if (this.#managed.some((m) => m.spec.name === spec.name)) {
      throw new TypeError(`component ${spec.name} is already supervised`);
    }
    const m: Managed = {
      spec,
      status: { name: spec.name, state: 'starting', pid: null, restarts: 0, log: spec.log },
      child: undefined,
      readySince: 0,
      nextDelayMs: this.#backoff.initialMs,
      restarting: undefined,
    };
    this.#managed.push(m);
    const outcome = await this.#launch(m);
    if (outcome.ok) {
      this.#update(m, { state: 'ready' });
    } else {
      await this.#kill(m);
      this.#update(m, { state: 'failed', pid: null, reason: outcome.reason });
    }
    return outcome;
  }

  /** Makes every start in progress give up (reason `stopped`) and stops restarting; see stopAll. */
  cancel(): void {
    this.#stop.abort();
  }

  /** Stops every component in reverse start order and waits for each to exit. */
  async stopAll(): Promise<void> {
    this.#stop.abort();
    for (const m of [...this.#managed].reverse()) {
      await m.restarting;
      await this.#kill(m);
    }
  }

  #update(m: Managed, change: Partial<ComponentStatus>): void {
    const next = { ...m.status, ...change };
    if (change.state !== undefined && change.state !== 'failed' && change.reason === undefined) {
      // A reason explains a failure or the last restart; keep it while restarting only.
      if (change.state !== 'restarting') delete (next as { reason?: string }).reason;
    }
    m.status = next;
    this.#deps.onChange(next);
  }

  /** Spawns the process and waits until it is ready, it exits, or the timeout passes. */
  async #launch(m: Managed): Promise<StartOutcome> {
    let child: ChildProcess;
    const log = await open(m.spec.log, 'a', 0o600);
    try {
      const stamp = new Date(this.#deps.clock.now()).toISOString();
      await log.write(`--- parley up: starting ${m.spec.name} at ${stamp} ---\n`);
      child = spawn(m.spec.command, [...m.spec.args], {
        env: m.spec.env,
        stdio: ['ignore', log.fd, log.fd],
        detached: true,
        ...(m.spec.cwd === undefined ? {} : { cwd: m.spec.cwd }),
      });
    } finally {
      await log.close();
    }
    let spawnError: Error | undefined;
    child.once('error', (err) => (spawnError = err));
    m.child = child;
    this.#update(m, { pid: child.pid ?? null });
    child.once('exit', () => this.#exited(m, child));
    const deadline = this.#deps.clock.now() + m.spec.readyTimeoutMs;
    for (;;) {
      if (spawnError !== undefined)
        return { ok: false, reason: `cannot start: ${spawnError.message}` };
      if (!running(child)) return { ok: false, reason: `${exitReason(child)} before it was ready` };
      if (this.#stop.signal.aborted) return { ok: false, reason: 'stopped' };
      if (await m.spec.ready().catch(() => false)) {
        m.readySince = this.#deps.clock.now();
        return { ok: true };
      }
      if (this.#deps.clock.now() >= deadline) {
        return {
          ok: false,
          reason: `not ready within ${Math.round(m.spec.readyTimeoutMs / 1000)} s`,
        };
      }
      await sleep(POLL_MS, this.#stop.signal).catch(() => undefined);
    }
  }

  #exited(m: Managed, child: ChildProcess): void {
    if (m.child !== child || this.#stop.signal.aborted) return;
    // Exits while starting are seen by #launch; only a ready component is restarted here.
    if (m.status.state !== 'ready') return;
    m.child = undefined;
    if (this.#deps.clock.now() - m.readySince >= this.#backoff.resetAfterMs) {
      m.nextDelayMs = this.#backoff.initialMs;
    }
    this.#update(m, {
      state: 'restarting',
      pid: null,
      restarts: m.status.restarts + 1,
      reason: exitReason(child),
    });
    m.restarting = this.#restart(m).finally(() => (m.restarting = undefined));
  }

  async #restart(m: Managed): Promise<void> {
    for (;;) {
      const delay = m.nextDelayMs;
      m.nextDelayMs = Math.min(delay * 2, this.#backoff.maxMs);
      try {
        await sleep(delay, this.#stop.signal);
      } catch {
        return;
      }
      const outcome = await this.#launch(m);
      if (this.#stop.signal.aborted) return;
      if (outcome.ok) {
        this.#update(m, { state: 'ready' });
        return;
      }
      await this.#kill(m);
      this.#update(m, {
        state: 'restarting',
        pid: null,
        restarts: m.status.restarts + 1,
        reason: outcome.reason,
      });
    }
  }

  /** SIGTERM, then SIGKILL after the stop timeout; resolves once the process has exited. */
  async #kill(m: Managed): Promise<void> {
    const child = m.child;
    if (child === undefined || !running(child) || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(
      () => running(child) && child.kill('SIGKILL'),
      this.#deps.stopTimeoutMs ?? 10_000,
    );
    await exited;
    clearTimeout(timer);
  }
}

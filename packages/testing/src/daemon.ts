// Long-running peer processes for tests and benchmarks: started in the background with their
// output kept in memory, waited on with a bound, and stopped by their own pid.
import { type ChildProcess, spawn } from 'node:child_process';
import { get } from 'node:http';
import { createServer } from 'node:net';

/** A background process with its output kept in memory. */
export interface Daemon {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The last 64 KiB of its stdout and stderr, interleaved. */
  log(): string;
  /** Stops it with `signal` (SIGKILL after 10 s) and waits for its exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const LOG_LIMIT = 64 * 1024;

/** Starts `command args` in the background. */
export function startDaemon(
  command: string,
  args: readonly string[],
  options: { readonly env?: Readonly<Record<string, string>>; readonly cwd?: string } = {},
): Daemon {
  const child = spawn(command, args, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  let log = '';
  const keep = (b: Buffer) => {
    log += b.toString();
    if (log.length > LOG_LIMIT) log = log.slice(-LOG_LIMIT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    pid: child.pid,
    log: () => log,
    stop: async (signal = 'SIGTERM') => {
      if (!running()) return;
      child.kill(signal);
      const timer = setTimeout(() => running() && child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `check` every 50 ms until it returns true; throws naming `what` after `ms`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  ms = 30_000,
  log?: () => string,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `timed out waiting for ${what}${log ? `\n--- log ---\n${log().slice(-4000)}` : ''}`,
  );
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * `n` distinct free TCP ports on 127.0.0.1, all held bound until every one is picked (so none is
 * handed out twice); the caller binds them soon after, before the kernel reuses them for port 0.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** True when GET `url` answers 200 (false on any error): a readiness probe for waitFor. */
export function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    get(url, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    }).on('error', () => resolve(false));
  });
}

/** Waits until `ready` holds for a just-started daemon; stops it (and rethrows) if it never does. */
export async function readyOrStop(
  daemon: Daemon,
  what: string,
  ready: () => Promise<boolean>,
  ms = 30_000,
): Promise<Daemon> {
  try {
    await waitFor(what, ready, ms, () => daemon.log());
    return daemon;
  } catch (err) {
    await daemon.stop();
    throw err;
  }
}

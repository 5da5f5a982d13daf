// Test support for peer credentials (used by tests only): processes that run as another user and
// connect to a socket, or relay a test client's connection so the server sees the relay's
// credentials. Children run plain `node -e` scripts with builtins only, from `/`, so they need no
// access to the checkout.
import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { once } from 'node:events';

/** The uid and gid of Debian's `nobody` user (`nogroup`). */
export const NOBODY = { uid: 65534, gid: 65534 } as const;

/** True when the tests may run children as other users. */
export function canSwitchUsers(): boolean {
  return process.getuid?.() === 0;
}

/** A child `node -e` process whose stdout is read line by line. */
export interface NodeChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the first stdout line that starts with `prefix` (rejects after `timeoutMs`). */
  waitForLine(prefix: string, timeoutMs?: number): Promise<string>;
  /** True when a stdout line so far starts with `prefix`. */
  hasLine(prefix: string): boolean;
  /** Kills the child (SIGKILL) and waits for it to exit. */
  kill(): Promise<void>;
  /** Resolves when the child has exited. */
  exited(): Promise<void>;
}

/** Runs `node -e script ...args` (optionally as another user) with piped stdout. */
export function spawnNode(
  script: string,
  args: readonly string[] = [],
  options: { uid?: number; gid?: number; stdio?: StdioOptions } = {},
): NodeChild {
  const child = spawn(process.execPath, ['-e', script, ...args], {
    cwd: '/',
    stdio: options.stdio ?? ['ignore', 'pipe', 'inherit'],
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let buffered = '';
  let closed = false;
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      lines.push(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
    }
    for (const wake of waiters) wake();
  });
  child.stdout?.on('close', () => {
    closed = true;
    for (const wake of waiters) wake();
  });
  const exit =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : once(child, 'exit').then(() => undefined);
  if (child.pid === undefined) throw new Error('the child process did not start');
  return {
    child,
    pid: child.pid,
    waitForLine: (prefix, timeoutMs = 5000) =>
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const line = lines.find((l) => l.startsWith(prefix));
          if (line !== undefined) done(() => resolve(line));
          else if (closed) done(() => reject(new Error(`child exited before printing ${prefix}`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`no "${prefix}" from the child in ${timeoutMs} ms`))),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      }),
    hasLine: (prefix) => lines.some((l) => l.startsWith(prefix)),
    kill: async () => {
      child.kill('SIGKILL');
      await exit;
    },
    exited: () => exit,
  };
}

/** A script that connects to the socket argv[1], prints `connected`, and holds the connection. */
export const CONNECT_AND_HOLD = `
const s = require('node:net').connect(process.argv[1], () => console.log('connected'));
s.on('error', (e) => { console.log('error ' + e.code); process.exit(1); });
setTimeout(() => process.exit(0), 20000);
`;

/**
 * A relay that listens on argv[2] and forwards each connection to the socket argv[1], so the
 * server behind it sees the relay process's credentials (and not the test's).
 */
const RELAY = `
const net = require('node:net');
const [target, listen] = process.argv.slice(1);
const server = net.createServer((client) => {
  const upstream = net.connect(target);
  client.pipe(upstream).pipe(client);
  const end = () => { client.destroy(); upstream.destroy(); };
  for (const s of [client, upstream]) { s.on('error', end); s.on('close', end); }
});
server.listen(listen, () => console.log('ready'));
`;

/** Starts a relay as `ids` from `relayPath` to `target`; its directory must be writable by them. */
export async function startRelay(
  target: string,
  relayPath: string,
  ids: { uid: number; gid: number },
): Promise<NodeChild> {
  const relay = spawnNode(RELAY, [target, relayPath], ids);
  await relay.waitForLine('ready');
  return relay;
}

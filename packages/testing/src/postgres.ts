import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chown, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { findPeer } from './peers.js';
import { makeTempDir } from './temp-dir.js';
import type { TempDir } from './temp-dir.js';

/** A throwaway PostgreSQL server on 127.0.0.1, owned by one test; `stop()` removes it whole. */
export interface PostgresServer {
  /** Superuser connection URL of the `postgres` database (trust auth, no password). */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const PORT_ATTEMPTS = 5;
const STDERR_TAIL = 16_384;

// Runs detached, holding the read end of a pipe from the test process: when that process ends
// (normally, by an uncaught error or by SIGKILL) the read returns, and the server is shut down
// and its dir removed. `stop()` kills the watchdog first, so a stopped server is left alone.
const WATCHDOG = `read _ignored
kill -QUIT "$1" 2>/dev/null
i=0
while kill -0 "$1" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -KILL "$1" 2>/dev/null
rm -rf "$2"`;

interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/** The `postgres` user when this process is root (PostgreSQL refuses to run as root), else none. */
async function runAs(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = await readFile('/etc/passwd', 'utf8');
  const fields = passwd
    .split('\n')
    .map((line) => line.split(':'))
    .find((f) => f[0] === 'postgres');
  const uid = Number(fields?.[2]);
  const gid = Number(fields?.[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error(
      "running as root, but there is no 'postgres' user to run PostgreSQL as: run scripts/install-postgres.sh",
    );
  }
  return { uid, gid };
}

function spawnAs(user: RunAs | undefined, command: string, args: string[], cwd: string) {
  return spawn(command, args, {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
    ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
  });
}

/** Keeps the last few KiB of a child's stderr, so failures can quote it. */
function tailStderr(child: ChildProcess): () => string {
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL);
  });
  return () => tail.trim();
}

/** Resolves with the exit code (or signal name) of a child, even if it has already exited. */
function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
}

async function initdb(bin: string, dataDir: string, cwd: string, user: RunAs | undefined) {
  const child = spawnAs(
    user,
    join(bin, 'initdb'),
    [
      ...['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C'],
      ...['--no-sync', '--no-instructions'],
    ],
    cwd,
  );
  const stderr = tailStderr(child);
  const status = await exited(child);
  if (status !== 0) throw new Error(`initdb failed (exit ${status}): ${stderr()}`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port was bound');
  return address.port;
}

async function acceptsConnections(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

type Launch =
  | { readonly ok: true; readonly child: ChildProcess; readonly stderr: () => string }
  | { readonly ok: false; readonly portInUse: boolean; readonly message: string };

async function launch(
  bin: string,
  dir: string,
  port: number,
  user: RunAs | undefined,
): Promise<Launch> {
  const child = spawnAs(
    user,
    join(bin, 'postgres'),
    [
      ...['-D', join(dir, 'data'), '-k', dir, '-h', '127.0.0.1', '-p', String(port)],
      ...['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    ],
    dir,
  );
  const stderr = tailStderr(child);
  const exit = exited(child);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const deadline = performance.now() + READY_TIMEOUT_MS;
  for (;;) {
    const early = await Promise.race([exit, sleep(100, undefined)]);
    if (early !== undefined) {
      return {
        ok: false,
        portInUse: /address already in use/i.test(stderr()),
        message: `postgres exited (${early}) before accepting connections: ${stderr()}`,
      };
    }
    if (await acceptsConnections(url)) return { ok: true, child, stderr };
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      await exit;
      return {
        ok: false,
        portInUse: false,
        message: `postgres did not accept connections within ${READY_TIMEOUT_MS} ms: ${stderr()}`,
      };
    }
  }
}

/**
 * Starts a throwaway PostgreSQL server (Debian's binaries, as the `postgres` user when root) in a
 * fresh temp dir, listening on a free port of 127.0.0.1, and resolves once it accepts connections.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = findPeer('postgres');
  const user = await runAs();
  const dir: TempDir = await makeTempDir('parley-pg-');
  try {
    if (user !== undefined) await chown(dir.path, user.uid, user.gid);
    await initdb(bin, join(dir.path, 'data'), dir.path, user);
    let failure = '';
    for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
      const port = await freePort();
      const started = await launch(bin, dir.path, port, user);
      if (started.ok) return running(started.child, port, dir);
      failure = started.message;
      if (!started.portInUse) break;
    }
    throw new Error(failure);
  } catch (error) {
    await dir.remove();
    throw error;
  }
}

function running(child: ChildProcess, port: number, dir: TempDir): PostgresServer {
  const watchdog = spawn(
    'sh',
    ['-c', WATCHDOG, 'parley-pg-watchdog', String(child.pid), dir.path],
    {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    },
  );
  // Neither the server nor its watchdog keeps the test process alive; `stop()` waits explicitly.
  watchdog.unref();
  (watchdog.stdin as { unref?: () => void } | null)?.unref?.();
  child.unref();
  (child.stderr as { unref?: () => void } | null)?.unref?.();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      watchdog.kill('SIGKILL');
      const exit = exited(child);
      // SIGINT is PostgreSQL's fast shutdown; SIGTERM (smart) would wait for every client to leave.
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      try {
        await exit;
      } finally {
        clearTimeout(timer);
      }
      await dir.remove();
    })());
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Creates database `name` on `server` and returns its connection URL; `name` is `[a-z_][a-z0-9_]*`. */
export async function createDatabase(server: PostgresServer, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new TypeError(`invalid database name ${JSON.stringify(name)}: use [a-z_][a-z0-9_]*`);
  }
  const client = new pg.Client({ connectionString: server.url });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(server.url);
  url.pathname = '/' + name;
  return url.toString();
}

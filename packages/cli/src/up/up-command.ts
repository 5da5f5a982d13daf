import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ParleyError, systemClock } from '@parley/core';
import { type Command, UsageError } from '../command.js';
import { parseFlags } from '../flags.js';
import { parseDemoManifest } from './demo-manifest.js';
import { findEnvoy } from './envoy-binary.js';
import { isAlive } from './probes.js';
import { progressPrinter } from './progress.js';
import { type UpDemo, type UpEvent, runUp } from './run-up.js';
import { checkGit, upLayout } from './state-dir.js';
import { cleanUpStale } from './stop-up.js';
import { DEFAULT_UP_DIR, readUpState } from './up-state.js';

/** The repository root (packages/cli/dist/up → four levels up): demos and .venv live there. */
const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..', '..');
/** The `parley` entry file the server, the agent and a detached supervisor are started with. */
const CLI_MAIN = resolve(import.meta.dirname, '..', 'main.js');

const USAGE = `Usage: parley up [--dir DIR] [--demo sock-shop|none] [--load] [--detach]

Brings up the whole mesh on this machine: the server (SQLite, the mesh module watching a Git
repository of mesh config in DIR/mesh), one agent with a per-workload socket for each service,
and with the demo (default sock-shop) every demo service behind its own Envoy sidecar plus an
edge Envoy in front of the front-end on http://127.0.0.1:8080 (another port when 8080 is taken).
Stays in the foreground until Ctrl-C, restarting a component that exits (backoff 1 s, 2 s, 4 s…
up to 30 s), then stops everything. See docs/up.md.

  --dir DIR        the state dir (default ./.parley; created 0700, or reused)
  --demo NAME      sock-shop (default) or none (the platform only)
  --demo-dir DIR   run another demo laid out like examples/sock-shop (demo.json, dist/, mesh/)
  --load           also start the demo's traffic generator against the front-end
  --detach         return once every component is ready (exit 0) or one failed (exit 1) and
                   leave the supervisor running in the background; stop it with parley down
Exit codes: 0 success, 1 failed, 2 usage error.
`;

const FLAGS = {
  dir: { type: 'string' },
  demo: { type: 'string' },
  'demo-dir': { type: 'string' },
  load: { type: 'boolean' },
  detach: { type: 'boolean' },
  'foreground-supervisor': { type: 'boolean' },
} as const;

async function resolveDemo(name: string, dirFlag: string | undefined): Promise<UpDemo> {
  if (dirFlag === undefined && name === 'none') return { kind: 'none' };
  if (dirFlag === undefined && name !== 'sock-shop') {
    throw new UsageError(`--demo must be sock-shop or none, not "${name.slice(0, 32)}"`);
  }
  const dir = resolve(dirFlag ?? join(REPO_ROOT, 'examples', name));
  let text: string;
  try {
    text = await readFile(join(dir, 'demo.json'), 'utf8');
  } catch {
    throw new ParleyError(
      'failed-precondition',
      `the demo has no manifest: ${join(dir, 'demo.json')} is missing`,
    );
  }
  const manifest = parseDemoManifest(text);
  const mains = [...manifest.services.map((s) => s.main)];
  for (const main of mains) {
    const file = join(dir, 'dist', main);
    if (
      !(await stat(file).then(
        (s) => s.isFile(),
        () => false,
      ))
    ) {
      throw new ParleyError(
        'failed-precondition',
        `the demo is not built: ${file} is missing (run npm run build)`,
      );
    }
  }
  return { kind: 'demo', name: dirFlag === undefined ? name : dir, dir, manifest };
}

/** Refuses a second `parley up` in one state dir; cleans up after one whose supervisor died. */
async function checkNotRunning(dir: string): Promise<void> {
  const state = await readUpState(dir);
  if (state === undefined) return;
  if (isAlive(state.supervisorPid)) {
    throw new ParleyError(
      'already-exists',
      `parley up is already running in ${dir} (supervisor pid ${state.supervisorPid}); stop it with parley down`,
    );
  }
  await cleanUpStale(state, upLayout(dir));
}

/** `parley up`: the whole mesh on one machine (issue 5, DESIGN §4). */
export const upCommand: Command = {
  summary: 'run the whole mesh on this machine: server, agent, demo services behind Envoy',
  usage: USAGE,
  run: async (args, io) => {
    const { values } = parseFlags(args, FLAGS);
    const dir = resolve(values.dir ?? DEFAULT_UP_DIR);
    const demo = await resolveDemo(values.demo ?? 'sock-shop', values['demo-dir']);
    const envoy = demo.kind === 'demo' ? findEnvoy(io.env, REPO_ROOT) : undefined;
    await checkGit(io.env);
    const supervisorMode = values['foreground-supervisor'] === true;
    if (!supervisorMode) await checkNotRunning(dir);
    if (values.detach === true && !supervisorMode) {
      return detach(
        args.filter((a) => a !== '--detach'),
        dir,
        io,
      );
    }

    const layout = upLayout(dir);
    // A detached supervisor reports progress to its parent on fd 3 until everything is ready.
    const parent = supervisorMode ? createWriteStream('', { fd: 3 }) : undefined;
    parent?.on('error', () => undefined);
    const print = progressPrinter(io.stdout, process.cwd(), supervisorMode);
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    io.signal?.addEventListener('abort', onAbort, { once: true });
    // A closed terminal stops a foreground mesh cleanly too.
    process.once('SIGHUP', onAbort);
    try {
      return await runUp(
        { layout, demo, load: values.load === true },
        {
          clock: systemClock,
          env: io.env,
          node: process.execPath,
          cliMain: CLI_MAIN,
          envoy,
          pid: process.pid,
          signal: stop.signal,
          ownLog: supervisorMode ? join(layout.logs, 'supervisor.log') : '',
          progress: (event: UpEvent) => {
            print(event);
            if (parent !== undefined && !parent.closed) {
              parent.write(`${JSON.stringify(event)}\n`);
              if (event.type === 'ready' || event.type === 'failed') parent.end();
            }
          },
        },
      );
    } finally {
      process.removeListener('SIGHUP', onAbort);
      io.signal?.removeEventListener('abort', onAbort);
    }
  },
};

/** How long `--detach` waits for everything to be ready before it gives up. */
const DETACH_TIMEOUT_MS = 240_000;

/**
 * `parley up --detach`: re-executes `parley up --foreground-supervisor` in its own session (its
 * output in DIR/logs/supervisor.log), prints its progress, and returns when it reports ready or
 * a failure.
 */
async function detach(
  args: readonly string[],
  dir: string,
  io: Parameters<Command['run']>[1],
): Promise<number> {
  const logs = join(dir, 'logs');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await mkdir(logs, { recursive: true, mode: 0o700 });
  const log = join(logs, 'supervisor.log');
  const out = await open(log, 'a', 0o600);
  const child = (() => {
    try {
      return spawn(
        process.execPath,
        [CLI_MAIN, 'up', ...args, '--dir', dir, '--foreground-supervisor'],
        {
          detached: true,
          stdio: ['ignore', out.fd, out.fd, 'pipe'],
          env: io.env,
        },
      );
    } finally {
      void out.close();
    }
  })();
  const pipe = child.stdio[3];
  if (pipe === null || pipe === undefined)
    throw new ParleyError('internal', 'no progress pipe to the supervisor');
  const print = progressPrinter(io.stdout, process.cwd(), true);
  const lines = createInterface({ input: pipe as NodeJS.ReadableStream });
  let outcome: number | undefined;
  const timer = setTimeout(() => {
    io.stderr(
      `parley: parley up did not become ready within ${DETACH_TIMEOUT_MS / 1000} s; see ${log}\n`,
    );
    child.kill('SIGTERM');
  }, DETACH_TIMEOUT_MS);
  try {
    for await (const line of lines) {
      let event: UpEvent;
      try {
        event = JSON.parse(line) as UpEvent;
      } catch {
        continue;
      }
      print(event);
      if (event.type === 'ready') {
        io.stdout(`The supervisor runs in the background (pid ${child.pid ?? '?'}, log ${log}).\n`);
        outcome = 0;
        break;
      }
      if (event.type === 'failed') {
        outcome = 1;
        break;
      }
    }
  } finally {
    clearTimeout(timer);
    lines.close();
    (pipe as { destroy?: () => void }).destroy?.();
    child.unref();
  }
  if (outcome !== 0) {
    // The supervisor stops what it started and exits; wait for it (bounded) so nothing is left.
    await new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      const t = setTimeout(done, 30_000);
      child.once('exit', () => (clearTimeout(t), done()));
    });
  }
  if (outcome === undefined) {
    io.stderr(`parley: the supervisor exited before everything was ready; see ${log}\n`);
    return 1;
  }
  return outcome;
}

// A real `parley server run` for the benchmarks: its config, its admin CLI and API, its pid.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { get, request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Daemon, freePort, httpOk, readyOrStop, repoRoot, startDaemon } from '@parley/testing';

/** The built `parley` entry point. */
export const PARLEY = join(repoRoot, 'packages', 'cli', 'dist', 'main.js');

/** An entry as the admin API's batch create takes it. */
export interface EntryInput {
  readonly spiffeId: string;
  readonly parentId: string;
  readonly selectors: readonly { readonly type: string; readonly value: string }[];
  readonly x509SvidTtl?: number;
}

/** A running `parley server run` process. */
export interface ParleyServer {
  readonly daemon: Daemon;
  readonly trustDomain: string;
  /** `host:port` of the agent API. */
  readonly agentApiAddress: string;
  readonly adminSocket: string;
  /** The value of a counter on /metrics (0 when absent). */
  metric(name: string): Promise<number>;
  /** Runs `parley <args> --socket <adminSocket>`; rejects with its stderr on a non-zero exit. */
  admin(...args: string[]): Promise<string>;
  /** A fresh join token and the agent SPIFFE ID it attests as. */
  joinToken(): Promise<{ token: string; agentSpiffeId: string }>;
  /** Creates entries through the admin API in batches of 500; returns their ids in order. */
  createEntries(entries: readonly EntryInput[]): Promise<string[]>;
  /** Stops the process and starts a new one on the same config and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Options of `startParleyServer`. */
export interface ParleyServerOptions {
  /** `memory` (default: like the SPIRE baseline's) or `disk` (the CA survives a restart). */
  readonly keyManager?: 'memory' | 'disk';
  /** Extra node flags (BENCH_SERVER_NODE_ARGS adds more, e.g. `--cpu-prof --cpu-prof-dir=D`). */
  readonly nodeArgs?: readonly string[];
  /** More lines of the server config (e.g. a `secrets:` section). */
  readonly configLines?: readonly string[];
}

const BATCH = 500; // the admin API's MAX_BATCH_ENTRIES

function httpText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    }).on('error', reject);
  });
}

function postJson(socketPath: string, path: string, body: unknown): Promise<unknown> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', 'content-length': payload.length },
        timeout: 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) >= 300)
            reject(new Error(`${path}: HTTP ${res.statusCode}: ${text}`));
          else resolve(JSON.parse(text));
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer within 60 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Starts `parley server run` in `dir` (SQLite store, P-256 CA, 1 h SVIDs) and waits until it is
 * ready.
 */
export async function startParleyServer(
  dir: string,
  options: ParleyServerOptions = {},
): Promise<ParleyServer> {
  const trustDomain = 'example.org';
  const agentApiAddress = `127.0.0.1:${await freePort()}`;
  const healthPort = await freePort();
  const adminSocket = join(dir, 'admin.sock');
  const config = join(dir, 'server.yaml');
  await writeFile(
    config,
    [
      `trustDomain: ${trustDomain}`,
      `dataDir: ${join(dir, 'data')}`,
      `agentApiAddress: ${agentApiAddress}`,
      `adminSocket: ${adminSocket}`,
      `healthAddress: 127.0.0.1:${healthPort}`,
      `keyManager: ${options.keyManager ?? 'memory'}`,
      'ca:',
      '  keyType: ec-p256',
      '  ttl: 24h',
      'svid:',
      '  defaultX509Ttl: 1h',
      '  agentTtl: 1h',
      ...(options.configLines ?? []),
    ].join('\n'),
  );
  const nodeArgs = [
    ...(options.nodeArgs ?? []),
    ...(process.env['BENCH_SERVER_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
  ];
  const start = async () => {
    return readyOrStop(
      startDaemon(process.execPath, [...nodeArgs, PARLEY, 'server', 'run', '--config', config]),
      'parley server ready',
      () => httpOk(`http://127.0.0.1:${healthPort}/ready`),
    );
  };
  let daemon = await start();
  const admin = async (...args: string[]) => {
    try {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [PARLEY, ...args, '--socket', adminSocket],
        { timeout: 60_000, maxBuffer: 64 << 20 },
      );
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`parley ${args.join(' ')}: ${e.stderr ?? e.message}`);
    }
  };
  return {
    get daemon() {
      return daemon;
    },
    trustDomain,
    agentApiAddress,
    adminSocket,
    metric: async (name) => {
      const text = await httpText(`http://127.0.0.1:${healthPort}/metrics`);
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line === undefined ? 0 : Number(line.slice(name.length + 1));
    },
    admin,
    joinToken: async () =>
      JSON.parse(await admin('token', 'generate', '-o', 'json')) as {
        token: string;
        agentSpiffeId: string;
      },
    createEntries: async (entries) => {
      const ids: string[] = [];
      for (let i = 0; i < entries.length; i += BATCH) {
        const { results } = (await postJson(adminSocket, '/v1/entries/batch', {
          entries: entries.slice(i, i + BATCH),
        })) as { results: ({ entry: { id: string } } | { error: { message: string } })[] };
        for (const r of results) {
          if ('error' in r) throw new Error(`entry not created: ${r.error.message}`);
          ids.push(r.entry.id);
        }
      }
      return ids;
    },
    restart: async () => {
      await daemon.stop();
      daemon = await start();
    },
    stop: () => daemon.stop(),
  };
}

// A real spire-server v1.13.3 for the benchmarks, configured like Parley's side: SQLite
// datastore, P-256 CA in a memory key manager, 1 h X509-SVIDs, join-token node attestation.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Daemon, findPeer, freePort, httpOk, readyOrStop, startDaemon } from '@parley/testing';

/** An entry as `spire-server entry create -data` takes it. */
export interface SpireEntryInput {
  readonly spiffe_id: string;
  readonly parent_id: string;
  readonly selectors: readonly { readonly type: string; readonly value: string }[];
  readonly x509_svid_ttl: number;
}

/** A running spire-server. */
export interface SpireServer {
  readonly daemon: Daemon;
  readonly trustDomain: string;
  /** What `spire-server --version` prints, e.g. `1.13.3`. */
  readonly version: string;
  /** `host:port` of its agent-facing API. */
  readonly address: string;
  /** Runs `spire-server <command…> -socketPath <api socket> <args…>`. */
  cli(command: readonly string[], ...args: string[]): Promise<string>;
  /** A fresh join token and the agent SPIFFE ID it attests as. */
  joinToken(): Promise<{ token: string; agentSpiffeId: string }>;
  /** Creates entries with `entry create -data` in batches; resolves when all were created. */
  createEntries(entries: readonly SpireEntryInput[]): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts spire-server in `dir` with signing and attestation rate limits off (SPIRE limits
 * signing to 500 SVIDs/s per caller IP by default, which would cap it, not measure it).
 */
export async function startSpireServer(dir: string): Promise<SpireServer> {
  const bin = findPeer('spire-server');
  const trustDomain = 'example.org';
  const port = await freePort();
  const healthPort = await freePort();
  const socket = join(dir, 'api.sock');
  const config = join(dir, 'server.conf');
  await writeFile(
    config,
    `server {
  bind_address = "127.0.0.1"
  bind_port = "${port}"
  socket_path = "${socket}"
  trust_domain = "${trustDomain}"
  data_dir = "${join(dir, 'data')}"
  log_level = "WARN"
  ca_key_type = "ec-p256"
  ca_ttl = "24h"
  default_x509_svid_ttl = "1h"
  ratelimit {
    attestation = false
    signing = false
  }
}
plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "${join(dir, 'data', 'datastore.sqlite3')}"
    }
  }
  KeyManager "memory" {
    plugin_data {}
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
}
health_checks {
  listener_enabled = true
  bind_address = "127.0.0.1"
  bind_port = "${healthPort}"
  live_path = "/live"
  ready_path = "/ready"
}
`,
  );
  const printed = await promisify(execFile)(bin, ['--version'], { timeout: 10_000 });
  const version = (printed.stdout + printed.stderr).trim();
  const daemon = await readyOrStop(
    startDaemon(bin, ['run', '-config', config]),
    'spire-server ready',
    () => httpOk(`http://127.0.0.1:${healthPort}/ready`),
  );
  const cli = async (command: readonly string[], ...args: string[]) => {
    try {
      const { stdout } = await promisify(execFile)(
        bin,
        [...command, '-socketPath', socket, ...args],
        {
          timeout: 60_000,
          maxBuffer: 64 << 20,
        },
      );
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`spire-server ${command.join(' ')}: ${e.stderr ?? e.message}`);
    }
  };
  return {
    daemon,
    trustDomain,
    version,
    address: `127.0.0.1:${port}`,
    cli,
    joinToken: async () => {
      const { value } = JSON.parse(
        await cli(['token', 'generate'], '-ttl', '3600', '-output', 'json'),
      ) as { value: string };
      return {
        token: value,
        agentSpiffeId: `spiffe://${trustDomain}/spire/agent/join_token/${value}`,
      };
    },
    createEntries: async (entries) => {
      for (let i = 0; i < entries.length; i += 1000) {
        const file = join(dir, `entries-${i}.json`);
        await writeFile(file, JSON.stringify({ entries: entries.slice(i, i + 1000) }));
        const { results } = JSON.parse(
          await cli(['entry', 'create'], '-data', file, '-output', 'json'),
        ) as { results: { status?: { code?: number; message?: string } }[] };
        const failed = results.find((r) => (r.status?.code ?? 0) !== 0);
        if (failed !== undefined)
          throw new Error(`spire entry not created: ${failed.status?.message}`);
      }
    },
    stop: () => daemon.stop(),
  };
}

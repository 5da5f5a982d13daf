// Real Envoy 1.40 for tests and benchmarks: started from a bootstrap object with its admin on a
// free loopback port, waited on until the admin answers (or the server is LIVE), stopped cleanly.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Daemon, httpOk, readyOrStop, startDaemon, waitFor } from './daemon.js';
import { findPeer } from './peers.js';

/** A running Envoy and its admin endpoint. */
export interface Envoy extends Daemon {
  /** `http://127.0.0.1:<port>` of its admin interface. */
  readonly adminUrl: string;
  /** GET a path of the admin interface and return the body (e.g. `/stats?filter=…`). */
  admin(path: string): Promise<string>;
}

/**
 * Starts Envoy with `bootstrap` (proto3 JSON) written into `dir` under `name`. Waits until the
 * admin interface answers, and with `waitLive` until `/ready` reports LIVE (initial xDS fetched).
 */
export async function startEnvoy(options: {
  readonly dir: string;
  readonly name: string;
  readonly bootstrap: unknown;
  readonly waitLive?: boolean;
  readonly logLevel?: string;
  readonly timeoutMs?: number;
  /** Worker threads (`--concurrency`); Envoy's default is one per core. */
  readonly concurrency?: number;
}): Promise<Envoy> {
  const config = join(options.dir, `${options.name}.bootstrap.json`);
  const adminPath = join(options.dir, `${options.name}.admin`);
  await writeFile(config, JSON.stringify(options.bootstrap));
  const daemon = startDaemon(findPeer('envoy'), [
    '-c',
    config,
    '--admin-address-path',
    adminPath,
    '--use-dynamic-base-id',
    '--log-level',
    options.logLevel ?? 'warn',
    '--drain-time-s',
    '1',
    ...(options.concurrency === undefined ? [] : ['--concurrency', String(options.concurrency)]),
  ]);
  let adminUrl = '';
  await readyOrStop(
    daemon,
    `envoy ${options.name} admin`,
    async () => {
      const address = await readFile(adminPath, 'utf8').catch(() => '');
      if (!address.includes(':')) return false;
      adminUrl = `http://${address.trim()}`;
      return httpOk(`${adminUrl}/server_info`);
    },
    options.timeoutMs ?? 20_000,
  );
  if (options.waitLive === true) {
    await readyOrStop(
      daemon,
      `envoy ${options.name} LIVE`,
      () => httpOk(`${adminUrl}/ready`),
      options.timeoutMs ?? 20_000,
    );
  }
  return {
    ...daemon,
    adminUrl,
    admin: async (path) => {
      const res = await fetch(`${adminUrl}${path}`);
      return res.text();
    },
  };
}

/** Waits until Envoy's stat `name` (a counter or gauge) satisfies `check`. */
export async function waitForEnvoyStat(
  envoy: Envoy,
  name: string,
  check: (value: number) => boolean,
  ms = 20_000,
): Promise<void> {
  await waitFor(
    `envoy stat ${name}`,
    async () => {
      const text = await envoy.admin(`/stats?filter=${encodeURIComponent(`^${name}$`)}`);
      const match = /: (\d+)/.exec(text);
      return match?.[1] !== undefined && check(Number(match[1]));
    },
    ms,
    () => envoy.log(),
  );
}

// A real `parley agent run` for the benchmarks, attested to a ParleyServer with a join token.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Daemon, startDaemon, waitFor } from '@parley/testing';
import { PARLEY, type ParleyServer } from './parley-server.js';

/** Options of `startParleyAgent`. */
export interface ParleyAgentOptions {
  /** How often the agent syncs with the server; 1 s by default. */
  readonly syncInterval?: string;
  /** Extra node flags (BENCH_AGENT_NODE_ARGS adds more). */
  readonly nodeArgs?: readonly string[];
}

/**
 * Starts `parley agent run` in `dir` against `server` with `joinToken` and waits until its
 * Workload API listens; its socket is `<dir>/agent.sock`.
 */
export async function startParleyAgent(
  dir: string,
  server: ParleyServer,
  joinToken: string,
  options: ParleyAgentOptions = {},
): Promise<Daemon> {
  const bundle = join(dir, 'bootstrap-bundle.pem');
  await writeFile(bundle, await server.admin('bundle', 'show', '-o', 'pem'));
  const config = join(dir, 'agent.yaml');
  await writeFile(
    config,
    [
      `trustDomain: ${server.trustDomain}`,
      `dataDir: ${join(dir, 'data')}`,
      `serverAddress: ${server.agentApiAddress}`,
      `bootstrapBundleFile: ${bundle}`,
      `socketPath: ${join(dir, 'agent.sock')}`,
      `joinToken: ${joinToken}`,
      `syncInterval: ${options.syncInterval ?? '1s'}`,
    ].join('\n'),
  );
  const nodeArgs = [
    ...(options.nodeArgs ?? []),
    ...(process.env['BENCH_AGENT_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
  ];
  const daemon = startDaemon(process.execPath, [
    ...nodeArgs,
    PARLEY,
    'agent',
    'run',
    '--config',
    config,
  ]);
  try {
    await waitFor(
      'parley agent ready',
      () => daemon.log().includes('Workload API listening'),
      30_000,
      () => daemon.log(),
    );
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  return daemon;
}

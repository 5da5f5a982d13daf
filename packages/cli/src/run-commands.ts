import { systemClock } from '@parley/core';
import { type CliIo, type Command, UsageError } from './command.js';
import { parseFlags } from './flags.js';
import { jsonLog } from './log.js';

async function untilAborted(
  io: CliIo,
  what: string,
  run: (signal: AbortSignal) => Promise<void>,
): Promise<number> {
  const signal = io.signal ?? new AbortController().signal;
  await run(signal);
  io.stderr(`parley: ${what} stopped\n`);
  return 0;
}

/** `parley server run --config FILE`. */
export const serverRun: Command = {
  summary: 'run the Parley server (identity CA, agent API, admin API, mesh ADS)',
  run: async (args, io) => {
    const { values } = parseFlags(args, { config: { type: 'string' } });
    if (values.config === undefined) throw new UsageError('server run needs --config FILE');
    // Each root is loaded only when run: an agent does not load the server's modules.
    const { loadServerConfig } = await import('./server/server-config.js');
    const { runServer } = await import('./server/run-server.js');
    const { serverExtensions } = await import('./server/server-extensions.js');
    const config = await loadServerConfig(values.config);
    const log = jsonLog('server', io.stderr, () => systemClock.now());
    return untilAborted(io, 'server', (signal) =>
      runServer(config, { clock: systemClock, log, signal, env: io.env }, serverExtensions),
    );
  },
};

/** `parley agent run --config FILE`. */
export const agentRun: Command = {
  summary: 'run the Parley node agent (Workload API, SDS, xDS relay)',
  run: async (args, io) => {
    const { values } = parseFlags(args, { config: { type: 'string' } });
    if (values.config === undefined) throw new UsageError('agent run needs --config FILE');
    const { loadAgentConfig } = await import('./agent/agent-config.js');
    const { runAgent } = await import('./agent/run-agent.js');
    const config = await loadAgentConfig(values.config);
    const log = jsonLog('agent', io.stderr, () => systemClock.now());
    return untilAborted(io, 'agent', (signal) =>
      runAgent(config, { clock: systemClock, log, signal, env: io.env }),
    );
  },
};

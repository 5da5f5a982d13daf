import { ParleyError } from '@parley/core';
import { type Command, type CliIo, UsageError } from './command.js';
import { agentRun, serverRun } from './run-commands.js';

const RUN_COMMANDS = { server: serverRun, agent: agentRun } as const;

/** The CLI's version, from the workspace package. */
export const VERSION = '0.1.0';

const VERSION_COMMAND: Command = {
  summary: 'print the version of parley',
  run: async (args, io) => {
    if (args.length > 0) throw new UsageError('version takes no arguments');
    io.stdout(`parley ${VERSION}\n`);
    return 0;
  },
};

/**
 * The command table. Commands arrive with the issues that build their modules (DESIGN §4); only
 * what works is listed. Loaded on demand: `agent run` must not load the server's modules.
 */
async function commands(): Promise<Readonly<Record<string, Command>>> {
  const { ADMIN_COMMANDS } = await import('./commands/admin-commands.js');
  const { UP_COMMANDS } = await import('./up/up-commands.js');
  return { ...UP_COMMANDS, ...ADMIN_COMMANDS, version: VERSION_COMMAND };
}

async function help(): Promise<string> {
  const all: [string, Command][] = [
    ['server run', RUN_COMMANDS.server],
    ['agent run', RUN_COMMANDS.agent],
    ...Object.entries(await commands()),
  ];
  const width = Math.max(...all.map(([name]) => name.length));
  const lines = all.map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Parley: service-mesh security (SPIFFE identity, mesh, authorization, secrets, tokens).

Usage: parley <command> [flags]

Commands:
${lines.join('\n')}

Flags: -h, --help  help for parley or a command
`;
}

/**
 * Runs one `parley` invocation and returns its exit code: 0 on success, 1 on a failed operation
 * (one line naming what and why), 2 on a usage error.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.stdout(await help());
    return 0;
  }
  if (name === '--version') return runCli(['version'], io);
  // `server run` and `agent run` start processes; the other `agent …` verbs are admin commands.
  const isRun = args[0] === 'run' && (name === 'server' || name === 'agent');
  const command = isRun ? RUN_COMMANDS[name] : (await commands())[name];
  const commandArgs = isRun ? args.slice(1) : args;
  try {
    if (command === undefined) throw new UsageError(`unknown command "${name}"; see parley --help`);
    if (commandArgs.includes('-h') || commandArgs.includes('--help')) {
      const usage = command.usage;
      io.stdout(
        usage === undefined
          ? `parley ${name}: ${command.summary}\n`
          : usage.endsWith('\n')
            ? usage
            : `${usage}\n`,
      );
      return 0;
    }
    return await command.run(commandArgs, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`parley: ${err.message}\n`);
      return 2;
    }
    // Known failures carry a message safe to show; anything else is reported generically.
    io.stderr(`parley: ${err instanceof ParleyError ? err.message : 'internal error'}\n`);
    return 1;
  }
}

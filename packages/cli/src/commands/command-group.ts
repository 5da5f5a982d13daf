import { type CliIo, type Command, UsageError } from '../command.js';

/** A subcommand: what it does with the arguments after its name. */
export type Subcommand = (args: readonly string[], io: CliIo) => Promise<number>;

/** A command with a full usage text (its flags), printed by `parley <command> help`. */
export interface AdminCommand extends Command {
  readonly usage: string;
}

/**
 * A command made of subcommands (`parley entry create …`): the first argument picks one; `help`
 * prints the usage; none or an unknown one is a usage error listing them.
 */
export function commandGroup(
  name: string,
  summary: string,
  usage: string,
  subcommands: Readonly<Record<string, Subcommand>>,
): AdminCommand {
  const names = Object.keys(subcommands).join('|');
  return {
    summary,
    usage,
    run: async (args, io) => {
      const [verb, ...rest] = args;
      if (verb === 'help' && rest.length === 0) {
        io.stdout(usage);
        return 0;
      }
      const sub =
        verb !== undefined && Object.hasOwn(subcommands, verb) ? subcommands[verb] : undefined;
      if (sub === undefined) {
        throw new UsageError(
          verb === undefined
            ? `${name} needs a subcommand: ${names} (see parley ${name} help)`
            : `unknown subcommand "${verb.slice(0, 32)}" of ${name}: use ${names}`,
        );
      }
      return sub(rest, io);
    },
  };
}

/** The flags every admin command shares, as a usage text appends them. */
export const COMMON_USAGE = `
Every command: --socket PATH  the server's admin socket (default: $PARLEY_ADMIN_SOCKET, else
               ./.parley/admin.sock; unix:///PATH is accepted)
Durations: 90 (seconds), 90s, 15m, 1h30m. Exit codes: 0 success, 1 failed, 2 usage error.
`;

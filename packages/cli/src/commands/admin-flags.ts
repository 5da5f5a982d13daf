import { invalidArgument, parseDuration } from '@parley/core';
import { type AdminClient, adminClient, resolveAdminSocket } from '../admin-client.js';
import { type CliIo, UsageError } from '../command.js';
import { type FlagSpec, parseFlags } from '../flags.js';

/**
 * `parseFlags` with its usage errors on one line: node's parseArgs explains some mistakes over
 * several lines, and a `parley` error is one line (DESIGN §4).
 */
export function parseAdminFlags<T extends FlagSpec>(
  args: readonly string[],
  options: T,
  positionals = 0,
): ReturnType<typeof parseFlags<T>> {
  try {
    return parseFlags(args, options, positionals);
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(err.message.replace(/\s*\n\s*/g, ' '));
    throw err;
  }
}

/** The flags every admin command takes: the admin socket and the output format. */
export const ADMIN_FLAGS = {
  socket: { type: 'string' },
  output: { type: 'string', short: 'o' },
} as const;

/** The admin API client for `--socket` (or the environment's, or the default). */
export function connect(values: { readonly socket?: string | undefined }, io: CliIo): AdminClient {
  return adminClient(resolveAdminSocket(values.socket, io.env));
}

/** Parses a flag's value with `parse`; a value that does not parse is a usage error naming the flag. */
export function flagValue<T>(flag: string, text: string, parse: (text: string) => T): T {
  try {
    return parse(text);
  } catch (err) {
    throw new UsageError(`--${flag}: ${(err as Error).message}`);
  }
}

/** The value of a required flag, or a usage error naming it. */
export function required<T>(value: T | undefined, flag: string, command: string): T {
  if (value === undefined) throw new UsageError(`${command} needs --${flag}`);
  return value;
}

/**
 * A duration flag (`90`, `90s`, `15m`, `1h30m`; a plain number is seconds) as whole seconds of at
 * least `min`: the admin API counts TTLs in seconds, so `1500ms` is refused rather than rounded.
 */
export function secondsFlag(flag: string, text: string, min: number): number {
  return flagValue(flag, text, (t) => {
    const ms = parseDuration(t);
    if (ms % 1000 !== 0)
      throw invalidArgument(`"${t.slice(0, 32)}" is not a whole number of seconds`);
    if (ms / 1000 < min) throw invalidArgument(`must be at least ${min}s`);
    return ms / 1000;
  });
}

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './command.js';

/** Flag definitions as node:util's parseArgs takes them. */
export type FlagSpec = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a command's flags strictly: an unknown flag, a missing value or an unexpected
 * positional argument is a usage error (exit 2), never ignored.
 */
export function parseFlags<T extends FlagSpec>(
  args: readonly string[],
  options: T,
  positionals = 0,
): {
  values: ReturnType<
    typeof parseArgs<{ options: T; strict: true; allowPositionals: true }>
  >['values'];
  positionals: string[];
} {
  try {
    const parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
    if (parsed.positionals.length > positionals) {
      throw new UsageError(`unexpected argument "${parsed.positionals[positionals] ?? ''}"`);
    }
    return { values: parsed.values, positionals: parsed.positionals };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // node's messages may span lines; a usage error is one line.
    throw new UsageError(
      (err as Error).message
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .join(' '),
    );
  }
}

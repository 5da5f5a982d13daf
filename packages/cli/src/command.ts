/** The shape of a `parley` command and the I/O it is given. */

/** Where a command writes; injected so tests run commands in-process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Standard input, for commands that read a token or document from it (`--token -`). */
  readonly stdin?: AsyncIterable<string | Uint8Array>;
  /** Aborts on SIGINT/SIGTERM: long-running commands (`server run`, `agent run`) stop cleanly. */
  readonly signal?: AbortSignal;
}

/** A `parley` command: its one-line summary and what it does with its arguments. */
export interface Command {
  readonly summary: string;
  /** The full usage text `--help` prints (the summary when absent). */
  readonly usage?: string;
  readonly run: (args: readonly string[], io: CliIo) => Promise<number>;
}

/** A usage error: exit code 2 (DESIGN §4). */
export class UsageError extends Error {}

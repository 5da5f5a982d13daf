// A benchmark's client process: forked with an IPC channel, its messages queued and awaited with
// a bound, and killed when the benchmark ends.
import { type ChildProcess, fork } from 'node:child_process';
import type { Defer } from './run-bench.js';

/** A message a client process sends; `error` ends the benchmark with its message. */
export type ClientMessage = { readonly type: string; readonly message?: string };

/** A forked client process and its message queue. */
export interface ClientProcess<M extends ClientMessage> {
  readonly child: ChildProcess;
  send(message: unknown): void;
  /** The next message; throws on an `error` message, the process's exit or the timeout. */
  next(what: string, timeoutMs: number): Promise<M>;
  stop(): Promise<void>;
}

/** Forks `script` (named `name` in errors) and registers its stop with `defer`. */
export function forkClient<M extends ClientMessage>(
  name: string,
  script: string,
  args: readonly string[],
  defer: Defer,
): ClientProcess<M> {
  const child = fork(script, [...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  defer(stop);
  const inbox: M[] = [];
  let wake: (() => void) | undefined;
  child.on('message', (m: M) => {
    inbox.push(m);
    wake?.();
  });
  return {
    child,
    send: (message) => void child.send(message as object),
    stop,
    next: async (what, timeoutMs) => {
      const deadline = performance.now() + timeoutMs;
      while (inbox.length === 0) {
        if (child.exitCode !== null) throw new Error(`the ${name} exited (${child.exitCode})`);
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`timed out waiting for ${what}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.min(left, 200));
        });
        wake = undefined;
      }
      const m = inbox.shift() as M;
      if (m.type === 'error') throw new Error(`${name}: ${m.message ?? ''}`);
      return m;
    },
  };
}

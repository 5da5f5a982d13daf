import { type Task, sleep } from '@parley/core';
import type { Log } from '../log.js';

/**
 * A maker of background duties for `module`: `every(ms, what, fn)` is a Task that runs `fn`
 * every `ms` until aborted; a failure is logged as `<module>: <what> failed` and the next run
 * happens as usual.
 */
export function periodic(
  log: Log,
  module: string,
): (ms: number, what: string, fn: () => Promise<unknown>) => Task {
  return (ms, what, fn) => async (signal) => {
    while (!signal.aborted) {
      await sleep(ms, signal).catch(() => undefined);
      if (signal.aborted) return;
      await fn().catch((err: unknown) => log.error(`${module}: ${what} failed`, { error: err }));
    }
  };
}

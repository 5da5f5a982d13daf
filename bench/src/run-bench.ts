// The frame of a benchmark script: cleanups run in reverse order on success, failure, Ctrl-C or
// when the time limit is hit, so no peer process or temp dir outlives the run.

/** Registers a cleanup to run when the benchmark ends (last registered, first run). */
export type Defer = (cleanup: () => Promise<void> | void) => void;

/**
 * Runs `main` with a `defer` for cleanups, bounded by `limitMs`; on failure prints the error and
 * exits with code 1. Exits when done, so no leftover handle keeps the process alive.
 */
export async function runBench(
  name: string,
  limitMs: number,
  main: (defer: Defer) => Promise<void>,
): Promise<void> {
  const cleanups: (() => Promise<void> | void)[] = [];
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    (cleaned ??= (async () => {
      for (const c of cleanups.reverse()) {
        try {
          await c();
        } catch (err) {
          console.error(`${name}: cleanup failed: ${(err as Error).message}`);
        }
      }
    })());
  const interrupted = (signal: NodeJS.Signals) => {
    console.error(`${name}: ${signal}, cleaning up`);
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`did not finish within ${limitMs / 1000} s`)),
      limitMs,
    );
  });
  try {
    await Promise.race([main((c) => void cleanups.push(c)), limit]);
  } catch (err) {
    console.error(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  } finally {
    clearTimeout(timer);
    await cleanup();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
  process.exit();
}

/** The median of `xs` (the upper one for an even count); 0 for none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

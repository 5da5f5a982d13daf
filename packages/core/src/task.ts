/** A long-lived unit of work: runs until `signal` aborts, or fails. */
export type Task = (signal: AbortSignal) => Promise<void>;

/**
 * Runs tasks together (STYLE rule 4): the first task to fail aborts the others and its error
 * is the result; when `signal` aborts, every task is asked to stop and the call resolves
 * once all have returned. A task that returns on its own while others still run is fine.
 */
export async function runTasks(signal: AbortSignal, tasks: readonly Task[]): Promise<void> {
  const group = new AbortController();
  const onAbort = () => group.abort(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  let firstError: { error: unknown } | undefined;
  try {
    await Promise.all(
      tasks.map(async (task) => {
        try {
          await task(group.signal);
        } catch (error) {
          if (firstError === undefined && !(group.signal.aborted && isAbortError(error))) {
            firstError = { error };
          }
          group.abort(error);
        }
      }),
    );
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (firstError !== undefined) throw firstError.error;
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** Resolves after `ms`, or rejects with an AbortError when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal | undefined): Error {
  const error = new Error('the operation was aborted', { cause: signal?.reason });
  error.name = 'AbortError';
  return error;
}

// The live JavaScript heap of a Node process after a full garbage collection, read from the heap
// snapshot it writes on a signal (`--heapsnapshot-signal`; V8 collects garbage before a snapshot).
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { waitFor } from '@parley/testing';

/** Node flags that make a process write a heap snapshot into `dir` on SIGUSR2. */
export function heapSnapshotFlags(dir: string): string[] {
  return ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`];
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[] } };
  nodes: number[];
}

/**
 * Signals `pid` (started with `heapSnapshotFlags(dir)`) to write a heap snapshot and returns the
 * sum of every object's own size in bytes: the heap that survives a full collection. The snapshot
 * file is removed afterwards. Writing it makes the process's RSS grow: read RSS before.
 */
export async function liveHeapBytes(pid: number, dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  process.kill(pid, 'SIGUSR2');
  let parsed: Snapshot | undefined;
  await waitFor(
    `a heap snapshot of pid ${pid}`,
    async () => {
      const file = (await readdir(dir)).find((f) => f.endsWith('.heapsnapshot'));
      if (file === undefined) return false;
      try {
        parsed = JSON.parse(await readFile(`${dir}/${file}`, 'utf8')) as Snapshot;
      } catch {
        return false; // still being written
      }
      await rm(`${dir}/${file}`);
      return true;
    },
    60_000,
  );
  const fields = parsed!.snapshot.meta.node_fields;
  const selfSize = fields.indexOf('self_size');
  let total = 0;
  for (let i = selfSize; i < parsed!.nodes.length; i += fields.length) total += parsed!.nodes[i]!;
  return total;
}

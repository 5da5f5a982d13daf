// The Go HTTPS load generator (bench/go/https-load, built into $PARLEY_CACHE/bin) as the
// benchmarks drive it, and the table they print its figures in.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cacheDir } from '@parley/testing';
import { processStats } from './process-stats.js';

/** The loader binary (`go_build_cached bench/go/https-load https-load`). */
export const HTTPS_LOADER = join(cacheDir, 'bin', 'https-load');

/** What one load run measured: requests (in the measured window), errors, rate, latencies. */
export interface Load {
  readonly requests: number;
  readonly errors: number;
  readonly rate: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** The CPU share of the measured process over the run (1 = one core), when one is given. */
  readonly cpu?: number;
}

/** Throws unless the loader is built, naming the npm script that builds it. */
export function requireLoader(script: string): void {
  if (!existsSync(HTTPS_LOADER)) throw new Error(`${HTTPS_LOADER} missing: run npm run ${script}`);
}

/** Runs the loader with `args` (after `warmup` seconds, `seconds` measured); `pid`'s CPU too. */
export async function httpsLoad(
  args: readonly string[],
  options: { readonly seconds: number; readonly warmup?: number; readonly pid?: number },
): Promise<Load> {
  const warmup = options.warmup ?? 1;
  const before = options.pid === undefined ? undefined : processStats(options.pid);
  const { stdout } = await promisify(execFile)(HTTPS_LOADER, [
    ...args,
    '-seconds',
    String(options.seconds),
    '-warmup',
    String(warmup),
  ]);
  const after = options.pid === undefined ? undefined : processStats(options.pid);
  const result = JSON.parse(stdout) as Load;
  return before === undefined || after === undefined
    ? result
    : { ...result, cpu: (after.cpuSeconds - before.cpuSeconds) / (options.seconds + warmup) };
}

/** Prints `rows` as a table: name, rate, p50, p99, errors and CPU. */
export function printLoadTable(unit: string, rows: readonly (readonly [string, Load])[]): void {
  const width = Math.max(26, ...rows.map(([n]) => n.length + 2));
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(
    `${pad('target', width)}${pad(unit, 10)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('errors', 8)}CPU`,
  );
  for (const [name, r] of rows) {
    console.log(
      `${pad(name, width)}${pad(r.rate.toFixed(0), 10)}${pad(r.p50Ms.toFixed(2), 9)}${pad(r.p99Ms.toFixed(2), 9)}${pad(String(r.errors), 8)}${r.cpu === undefined ? '' : `${(r.cpu * 100).toFixed(0)}%`}`,
    );
  }
}

// Resident memory and CPU time of a process, read from /proc (Linux).
import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux architecture Node runs on

/** A process's resident set size (VmRSS) and CPU time (user + system) so far. */
export interface ProcessStats {
  readonly rssBytes: number;
  readonly cpuSeconds: number;
}

/** Reads `pid`'s resident set size and CPU time from /proc. */
export function processStats(pid: number): ProcessStats {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (rss?.[1] === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssBytes: Number(rss[1]) * 1024, cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND };
}

/** Megabytes (MiB) with one decimal. */
export function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

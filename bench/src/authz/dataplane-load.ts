// Fixed-rate, open-loop HTTP/1.1 load for the data-path benchmark: requests leave on schedule
// whatever the answers do, and each latency counts from when its request was due (or sent, if
// earlier), so a stalled path is not hidden (no coordinated omission).
import { type Agent, request } from 'node:http';
import { allowedPath } from './dataplane-policy.js';

/** One measured window: latencies of the 2xx answers, and the requests that got none. */
export interface LoadWindow {
  /** Latencies in ms of the 2xx answers, sorted ascending. */
  readonly latencies: Float64Array;
  /** Answers other than 2xx. */
  readonly non2xx: number;
  /** Requests that failed at the transport (no answer). */
  readonly failed: number;
  /** The first non-2xx status or transport error, for the report. */
  readonly firstError?: string;
}

/** Sends `rate` requests/s for `seconds` to 127.0.0.1:`port` over `agent`'s connections. */
export async function openLoopLoad(
  port: number,
  rate: number,
  seconds: number,
  agent: Agent,
): Promise<LoadWindow> {
  const total = Math.round(rate * seconds);
  const latencies = new Float64Array(total);
  let ok = 0;
  let non2xx = 0;
  let failed = 0;
  let firstError: string | undefined;
  let pending = total;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const settle = () => {
    pending -= 1;
    if (pending === 0) done();
  };
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    // Timers fire at 1 ms granularity: requests due within the next ms leave together, early.
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const from = Math.min(due, performance.now());
    const req = request(
      { host: '127.0.0.1', port, path: allowedPath(i), agent, headers: { host: 'server' } },
      (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) latencies[ok++] = performance.now() - from;
          else {
            non2xx += 1;
            firstError ??= `HTTP ${status}`;
          }
          settle();
        });
      },
    );
    req.on('error', (err) => {
      failed += 1;
      firstError ??= err.message;
      settle();
    });
    req.end();
  }
  if (total > 0) await finished;
  return {
    latencies: latencies.subarray(0, ok).sort(),
    non2xx,
    failed,
    ...(firstError !== undefined && { firstError }),
  };
}

/** The `p`-th percentile (0–100) of ascending `sorted`; 0 for none. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** One request to 127.0.0.1:`port`; resolves to its status and body, bounded by `timeoutMs`. */
export function probe(
  port: number,
  r: { method: string; path: string; headers?: Readonly<Record<string, string>> },
  timeoutMs = 5000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: r.method,
        path: r.path,
        headers: { host: 'server', ...r.headers },
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${r.method} ${r.path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

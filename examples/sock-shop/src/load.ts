// Entry: the load generator (`TARGET` the front-end's URL, `RATE` requests/s, `SUMMARY_EVERY`
// seconds between summary lines, default 10). SIGTERM/SIGINT log a last summary and exit 0.
import { parseRate, runLoad } from './apps/load.js';
import type { ShopRequest } from './apps/load.js';

const log = (line: Readonly<Record<string, unknown>>): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

let target: URL;
let rate: number;
let summaryEvery: number;
try {
  target = new URL(process.env['TARGET'] ?? 'http://127.0.0.1:8080');
  rate = parseRate(process.env['RATE']);
  summaryEvery = Number(process.env['SUMMARY_EVERY'] ?? '10');
  if (!Number.isFinite(summaryEvery) || summaryEvery <= 0) {
    throw new Error(`SUMMARY_EVERY must be a positive number of seconds`);
  }
} catch (e) {
  process.stderr.write(`load: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}

const request: ShopRequest = async (method, path, cart, body) => {
  const res = await fetch(new URL(path, target), {
    method,
    headers: {
      cookie: `cart=${cart}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON (an Envoy error page): keep the text.
  }
  return { status: res.status, body: parsed };
};

const stop = new AbortController();
process.once('SIGTERM', () => stop.abort());
process.once('SIGINT', () => stop.abort());
log({ time: new Date().toISOString(), service: 'load', msg: 'started', target: target.href, rate });
await runLoad(
  {
    request,
    rate,
    summaryEveryMs: summaryEvery * 1000,
    log,
    now: () => new Date(),
    random: Math.random,
  },
  stop.signal,
);
process.exit(0);

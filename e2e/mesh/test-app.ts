import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How a test app answers; changed at run time to inject failures and delays. */
export interface AppBehavior {
  /** Share of requests answered 503, at random (0 to 1). */
  readonly failRatio?: number;
}

/** Requests whose path starts with one of these are answered after the delay (ms). */
const DELAYS: readonly (readonly [string, number])[] = [
  ['/slow', 2000],
  ['/hold', 800],
];

/** A small HTTP service on loopback that says who it is and what it received. */
export interface TestApp {
  readonly name: string;
  readonly port: number;
  /** Requests received so far. */
  readonly received: () => number;
  /** The headers of the last request received. */
  readonly lastHeaders: () => Readonly<Record<string, string | string[] | undefined>>;
  setBehavior(behavior: AppBehavior): void;
  close(): Promise<void>;
}

/** Starts a test app named `name` on 127.0.0.1 (a free port). */
export async function startTestApp(name: string): Promise<TestApp> {
  let behavior: AppBehavior = {};
  let count = 0;
  let headers: Record<string, string | string[] | undefined> = {};
  const server: Server = createServer((req, res) => {
    count += 1;
    headers = req.headers;
    req.resume();
    const answer = () => {
      const fail = Math.random() < (behavior.failRatio ?? 0);
      res
        .writeHead(fail ? 503 : 200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ service: name, path: req.url, method: req.method }));
    };
    const delay = DELAYS.find(([prefix]) => req.url?.startsWith(prefix) === true)?.[1];
    if (delay === undefined) answer();
    else setTimeout(answer, delay);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    received: () => count,
    lastHeaders: () => headers,
    setBehavior: (b) => {
      behavior = b;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

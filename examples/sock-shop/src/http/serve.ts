// Serves one demo Handler over plain HTTP on loopback: `/health`, body parsing, error mapping,
// one JSON log line per request, and a graceful close.
import { Agent, createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { DemoError, PROPAGATED_HEADERS, json, sidecarCall } from './mesh-http.js';
import type { Call, DemoRequest, DemoResponse, Handler } from './mesh-http.js';

/** What `parley up` tells each demo process through its environment, parsed. */
export interface ServiceEnv {
  /** Port to listen on at 127.0.0.1 (0 picks a free one, announced in the `listening` log line). */
  readonly port: number;
  /** Its sidecar's outbound listener; absent for a service that calls nothing. */
  readonly outbound: { readonly host: string; readonly port: number } | undefined;
  readonly service: string;
  readonly instance: string;
}

/** Parses `PORT`, `PARLEY_OUTBOUND`, `SERVICE` and `INSTANCE`; throws naming every bad variable. */
export function parseServiceEnv(env: Readonly<Record<string, string | undefined>>): ServiceEnv {
  const problems: string[] = [];
  const port = parsePort(env['PORT'], 'PORT', problems);
  let outbound: ServiceEnv['outbound'];
  const rawOutbound = env['PARLEY_OUTBOUND'];
  if (rawOutbound !== undefined && rawOutbound !== '') {
    const i = rawOutbound.lastIndexOf(':');
    const host = rawOutbound.slice(0, i);
    const p = parsePort(rawOutbound.slice(i + 1), 'PARLEY_OUTBOUND port', problems);
    if (i <= 0) problems.push(`PARLEY_OUTBOUND must be host:port, got "${rawOutbound}"`);
    else outbound = { host, port: p };
  }
  const service = env['SERVICE'] ?? '';
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(service)) {
    problems.push(`SERVICE must be a DNS label (the service's name), got "${service}"`);
  }
  const instance = env['INSTANCE'] ?? `${service}-0`;
  if (problems.length > 0) throw new Error(`bad environment: ${problems.join('; ')}`);
  return { port, outbound, service, instance };
}

function parsePort(raw: string | undefined, name: string, problems: string[]): number {
  const n = Number(raw);
  if (raw === undefined || !/^\d{1,5}$/.test(raw) || n > 65535) {
    problems.push(`${name} must be a port number 0-65535, got "${raw ?? ''}"`);
    return 0;
  }
  return n;
}

/** One structured log line (written as JSON by the caller). */
export type LogLine = Readonly<Record<string, unknown>>;

/** What `serve` needs from its process. */
export interface ServeDeps {
  readonly env: ServiceEnv;
  readonly handler: Handler;
  readonly log: (line: LogLine) => void;
  /** The wall clock, for log timestamps. */
  readonly now: () => Date;
}

/** A listening demo service. */
export interface RunningService {
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish (bounded), closes idle connections. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;
const CLOSE_GRACE_MS = 5_000;

/** Starts serving `deps.handler` on 127.0.0.1:`deps.env.port`. */
export async function serve(deps: ServeDeps): Promise<RunningService> {
  const { env, log, now } = deps;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const base = { service: env.service, instance: env.instance };

  const server = createServer((req, res) => {
    const started = performance.now();
    void answer(req).then((response) => {
      write(res, response);
      if (req.url !== '/health') {
        log({
          time: now().toISOString(),
          ...base,
          method: req.method,
          path: req.url,
          status: response.status,
          durationMs: Math.round((performance.now() - started) * 10) / 10,
          requestId: req.headers['x-request-id'],
        });
      }
    });
  });

  async function answer(req: IncomingMessage): Promise<DemoResponse> {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/health' && req.method === 'GET') return json(200, { status: 'ok' });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        const first = Array.isArray(v) ? v[0] : v;
        if (first !== undefined) headers[k] = first;
      }
      const request: DemoRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers,
        body: parseBody(await readBody(req), headers['content-type'] ?? ''),
      };
      const propagate: Record<string, string> = {};
      for (const h of PROPAGATED_HEADERS) if (headers[h] !== undefined) propagate[h] = headers[h];
      const call: Call =
        env.outbound === undefined
          ? () => Promise.reject(new DemoError(502, `${env.service} has no PARLEY_OUTBOUND`))
          : sidecarCall(env.outbound, agent, propagate);
      return await deps.handler(request, call);
    } catch (e) {
      if (e instanceof DemoError) return json(e.status, { error: e.message });
      log({
        time: now().toISOString(),
        ...base,
        level: 'error',
        msg: 'handler failed',
        error: e instanceof Error ? e.message : String(e),
      });
      return json(500, { error: 'internal error' });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(env.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log({ time: now().toISOString(), ...base, msg: 'listening', port });

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        server.close(() => {
          clearTimeout(force);
          agent.destroy();
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

function write(res: ServerResponse, response: DemoResponse): void {
  res.writeHead(response.status, {
    ...response.headers,
    'content-length': String(Buffer.byteLength(response.body)),
  });
  res.end(response.body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new DemoError(413, `request body exceeds ${MAX_BODY_BYTES} bytes`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(text: string, contentType: string): unknown {
  if (text === '') return undefined;
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new DemoError(400, 'request body is not valid JSON');
  }
}

// The one helper every demo service shares: request/response values, JSON and HTML responses,
// and "call another service through my sidecar" (plain HTTP to the sidecar's outbound listener,
// `Host: <service>`; the sidecars do mTLS, retries and routing).
import type { Agent } from 'node:http';
import { request } from 'node:http';

/** An incoming request, parsed once at the edge (body: JSON, or form fields as an object). */
export interface DemoRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-case header names, first value only. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
}

/** A response ready to be written: status, extra headers and the serialized body. */
export interface DemoResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What another service answered: its status and its body (parsed when it was JSON). */
export interface CallResult {
  readonly status: number;
  readonly body: unknown;
}

/** Calls another demo service by name; rejects with a 502 `DemoError` when it is unreachable. */
export type Call = (
  service: string,
  method: string,
  path: string,
  body?: unknown,
) => Promise<CallResult>;

/** A demo service: answers one request, calling other services through `call`. */
export type Handler = (req: DemoRequest, call: Call) => Promise<DemoResponse>;

/** The one error a handler throws: an HTTP status and a message safe to send to the caller. */
export class DemoError extends Error {
  /** Makes an error answered as `status` with `{ error: message }`. */
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DemoError';
  }
}

/** A JSON response. */
export function json(
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): DemoResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(value),
  };
}

/** An HTML response. */
export function html(
  status: number,
  page: string,
  headers: Record<string, string> = {},
): DemoResponse {
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', ...headers },
    body: page,
  };
}

/** A 303 redirect (after a form post). */
export function seeOther(location: string, headers: Record<string, string> = {}): DemoResponse {
  return { status: 303, headers: { location, ...headers }, body: '' };
}

/**
 * Returns `value` as a plain object, or throws naming `what` was expected: a 400 for a request's
 * body, a 502 (`status`) for another service's answer.
 */
export function asObject(value: unknown, what: string, status = 400): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DemoError(status, `${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Throws a 502 unless `result` is 2xx: the caller's dependency failed. */
export function expectOk(result: CallResult, service: string): CallResult {
  if (result.status < 200 || result.status > 299) {
    throw new DemoError(502, `${service} answered ${result.status}`);
  }
  return result;
}

/** Headers carried from an incoming request to the calls it causes, so traces join up. */
export const PROPAGATED_HEADERS = ['x-request-id', 'traceparent', 'tracestate'] as const;

/** How long one call may take before it is abandoned (the sidecar's route timeouts are shorter). */
const CALL_TIMEOUT_MS = 20_000;

/**
 * A `Call` that sends plain HTTP to the sidecar's outbound listener `outbound` (`host:port`) with
 * `Host: <service>`, carrying `propagate` (the incoming request's trace headers).
 */
export function sidecarCall(
  outbound: { readonly host: string; readonly port: number },
  agent: Agent,
  propagate: Readonly<Record<string, string>> = {},
): Call {
  return (service, method, path, body) =>
    new Promise<CallResult>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          host: outbound.host,
          port: outbound.port,
          method,
          path,
          agent,
          headers: {
            ...propagate,
            host: service,
            accept: 'application/json',
            ...(payload !== undefined && {
              'content-type': 'application/json',
              'content-length': String(Buffer.byteLength(payload)),
            }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => reject(unreachable(service, e)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const isJson = (res.headers['content-type'] ?? '').startsWith('application/json');
            let parsed: unknown = text;
            if (isJson && text !== '') {
              try {
                parsed = JSON.parse(text);
              } catch (e) {
                reject(new DemoError(502, `${service} answered malformed JSON`, { cause: e }));
                return;
              }
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.setTimeout(CALL_TIMEOUT_MS, () => req.destroy(new Error('timed out')));
      req.on('error', (e) => reject(unreachable(service, e)));
      req.end(payload);
    });
}

function unreachable(service: string, cause: Error): DemoError {
  return new DemoError(502, `${service} unreachable: ${cause.message}`, { cause });
}

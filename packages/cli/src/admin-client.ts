import { request } from 'node:http';
import { ERROR_CODES, type ErrorCode, ParleyError } from '@parley/core';

/** Where the admin socket is when neither `--socket` nor `PARLEY_ADMIN_SOCKET` names it. */
export const DEFAULT_ADMIN_SOCKET = './.parley/admin.sock';

/** How long one admin request may take before it fails with deadline-exceeded. */
export const ADMIN_REQUEST_TIMEOUT_MS = 30_000;

/** Responses larger than this are refused (a page of 1000 entries is far smaller). */
const MAX_RESPONSE_BYTES = 32 << 20;
const MAX_MESSAGE_LENGTH = 500;

/**
 * The admin socket to use (DESIGN §4): the `--socket` flag, else `PARLEY_ADMIN_SOCKET`, else
 * `./.parley/admin.sock`. A `unix://` prefix is accepted (`unix:///abs/path` or a plain path).
 */
export function resolveAdminSocket(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  const given = flag ?? (env['PARLEY_ADMIN_SOCKET'] || undefined) ?? DEFAULT_ADMIN_SOCKET;
  const path = given.startsWith('unix://') ? given.slice('unix://'.length) : given;
  if (path === '' || path.includes('\0'))
    throw new ParleyError('invalid-argument', `invalid admin socket "${given.slice(0, 64)}"`);
  return path;
}

/** A query: each parameter once, or repeated for an array; undefined ones are left out. */
export type AdminQuery = Readonly<Record<string, string | readonly string[] | undefined>>;

/** A client of the server's admin API over its Unix socket. */
export interface AdminClient {
  readonly socketPath: string;
  get<T>(path: string, query?: AdminQuery): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
  put<T>(path: string, body: unknown): Promise<T>;
  delete<T>(path: string): Promise<T>;
}

/** One path segment, percent-encoded (entry ids and SPIFFE IDs go into paths). */
export function pathSegment(value: string): string {
  return encodeURIComponent(value);
}

/** A message from the server as one safe line: control characters become spaces, long ones are cut. */
function oneLine(message: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is being replaced
  const flat = message.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > MAX_MESSAGE_LENGTH ? `${flat.slice(0, MAX_MESSAGE_LENGTH)}…` : flat;
}

/** The code of a Vault-shaped error (`{"errors": [...]}`, the secrets API) by its status. */
function vaultCodeOf(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'invalid-argument';
    case 403:
      return 'permission-denied';
    case 404:
      return 'not-found';
    case 405:
      return 'unimplemented';
    case 409:
      return 'already-exists';
    case 413:
      return 'resource-exhausted';
    case 503:
      return 'unavailable';
    default:
      return 'internal';
  }
}

function failureOf(status: number, body: unknown): ParleyError {
  const errors =
    typeof body === 'object' && body !== null && 'errors' in body ? body.errors : undefined;
  // Vault answers a deleted or destroyed version with 404 and its metadata, no errors.
  if (status === 404 && typeof body === 'object' && body !== null && 'request_id' in body) {
    return new ParleyError('not-found', 'the version is deleted or destroyed');
  }
  if (Array.isArray(errors)) {
    const text = errors.filter((e): e is string => typeof e === 'string').join('; ');
    return new ParleyError(vaultCodeOf(status), oneLine(text === '' ? `HTTP ${status}` : text));
  }
  const error =
    typeof body === 'object' && body !== null && 'error' in body ? body.error : undefined;
  if (typeof error === 'object' && error !== null) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code)) {
      return new ParleyError(
        code as ErrorCode,
        oneLine(typeof message === 'string' ? message : code),
      );
    }
  }
  return new ParleyError('internal', `the admin API answered HTTP ${status} without an error`);
}

function connectFailure(socketPath: string, err: NodeJS.ErrnoException): ParleyError {
  const where = `admin socket ${socketPath}`;
  switch (err.code) {
    case 'ENOENT':
      return new ParleyError(
        'unavailable',
        `no ${where} (is the server running? name it with --socket or PARLEY_ADMIN_SOCKET)`,
      );
    case 'ECONNREFUSED':
      return new ParleyError('unavailable', `nothing is listening on the ${where}`);
    case 'EACCES':
    case 'EPERM':
      return new ParleyError('permission-denied', `no permission to use the ${where}`);
    default:
      return new ParleyError('unavailable', `cannot reach the ${where}: ${oneLine(err.message)}`);
  }
}

/** A client of the admin API on `socketPath`; every request is bounded by `timeoutMs`. */
export function adminClient(socketPath: string, timeoutMs = ADMIN_REQUEST_TIMEOUT_MS): AdminClient {
  function send<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    return new Promise<T>((resolve, reject) => {
      const req = request(
        {
          socketPath,
          method,
          path,
          headers: {
            accept: 'application/json',
            ...(payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': payload.length }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) {
              req.destroy(
                new ParleyError('resource-exhausted', 'the admin API response is too large'),
              );
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', reject);
          res.on('end', () => {
            // 204: a write that returns nothing (the secrets API answers as Vault does).
            if (res.statusCode === 204) return resolve(undefined as T);
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              reject(
                new ParleyError(
                  'internal',
                  `the admin API answered HTTP ${res.statusCode} with no JSON`,
                ),
              );
              return;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(parsed as T);
            else reject(failureOf(status, parsed));
          });
        },
      );
      req.setTimeout(timeoutMs, () =>
        req.destroy(
          new ParleyError(
            'deadline-exceeded',
            `the admin API did not answer within ${timeoutMs} ms`,
          ),
        ),
      );
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(err instanceof ParleyError ? err : connectFailure(socketPath, err)),
      );
      req.end(payload);
    });
  }

  return {
    socketPath,
    get: (path, query) => send('GET', path + queryString(query)),
    post: (path, body) => send('POST', path, body),
    put: (path, body) => send('PUT', path, body),
    delete: (path) => send('DELETE', path),
  };
}

function queryString(query: AdminQuery | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    for (const v of typeof value === 'string' ? [value] : value) params.append(key, v);
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

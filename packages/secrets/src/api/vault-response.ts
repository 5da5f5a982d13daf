import type { ServerResponse } from 'node:http';
import { type ErrorCode, isParleyError } from '@parley/core';

/** A JSON body Vault answers with; `data`, `auth` and friends are filled per endpoint. */
export interface VaultEnvelope {
  readonly data?: unknown;
  readonly auth?: unknown;
}

/**
 * Writes Vault's response envelope (`request_id`, `lease_id`, `renewable`, `lease_duration`,
 * `data`, `wrap_info`, `warnings`, `auth`, `mount_type`) with `status` (200 by default).
 */
export function sendVault(
  res: ServerResponse,
  requestId: string,
  body: VaultEnvelope,
  status = 200,
  mountType = 'kv',
): void {
  sendJson(res, status, {
    request_id: requestId,
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data: body.data ?? null,
    wrap_info: null,
    warnings: null,
    auth: body.auth ?? null,
    mount_type: mountType,
  });
}

/** Writes `204 No Content`, Vault's answer to a successful write that returns nothing. */
export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204).end();
}

/** Writes Vault's error shape `{"errors": [...]}`. */
export function sendErrors(res: ServerResponse, status: number, errors: readonly string[]): void {
  sendJson(res, status, { errors });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Vault's status for each Parley error code (the one table of this transport, STYLE rule 7). */
export function vaultStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'invalid-argument':
    case 'failed-precondition':
      return 400;
    case 'unauthenticated':
    case 'permission-denied':
      return 403;
    case 'not-found':
      return 404;
    case 'already-exists':
      return 409;
    case 'resource-exhausted':
      return 413;
    case 'unavailable':
    case 'deadline-exceeded':
      return 503;
    case 'unimplemented':
      return 405;
    case 'internal':
      return 500;
  }
}

/**
 * Answers a thrown error: a ParleyError with its status and message (messages carry no secrets),
 * anything else as `500 internal error` (the cause goes to `log`, never to the client).
 */
export function sendError(
  res: ServerResponse,
  err: unknown,
  log: (message: string, fields: Record<string, unknown>) => void,
): void {
  if (isParleyError(err) && err.code !== 'internal') {
    sendErrors(res, vaultStatusOf(err.code), [err.message]);
    return;
  }
  log('secrets request failed', { error: err });
  if (!res.headersSent) sendErrors(res, 500, ['internal error']);
  else res.destroy();
}

/** Formats milliseconds as Go's `time.Duration` prints them, as Vault does (`3h25m19s`, `0s`). */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** An RFC 3339 timestamp as Vault writes them, or `''` for none. */
export function vaultTime(ms: number | undefined): string {
  return ms === undefined ? '' : new Date(ms).toISOString();
}

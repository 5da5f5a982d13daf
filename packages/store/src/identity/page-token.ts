import { invalidArgument } from '@parley/core';

/** The page size used when a request names none (or 0, protobuf's default). */
export const DEFAULT_PAGE_SIZE = 100;
/** The largest page a listing returns; larger requests are capped to it. */
export const MAX_PAGE_SIZE = 1000;

const MAX_TOKEN_LENGTH = 4096;

/** The page size to use for a requested one: default for none or 0, capped at the maximum. */
export function pageSize(requested: number | undefined): number {
  if (requested === undefined || requested === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(requested) || requested < 0) {
    throw invalidArgument('page size must be a non-negative integer');
  }
  return Math.min(requested, MAX_PAGE_SIZE);
}

/**
 * The opaque token of the page after the row keyed `after` in the listing `kind`: base64url of
 * the JSON `[kind, after]`. A cursor, not an offset, so rows inserted or deleted between pages
 * never make a walk return a row twice.
 */
export function encodePageToken(kind: string, after: string): string {
  return Buffer.from(JSON.stringify([kind, after]), 'utf8').toString('base64url');
}

/** The key a page token of the listing `kind` resumes after; undefined for none (first page). */
export function decodePageToken(kind: string, token: string | undefined): string | undefined {
  if (token === undefined || token === '') return undefined;
  const bad = () => invalidArgument(`invalid page token for the ${kind} listing`);
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw bad();
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    parsed[0] !== kind ||
    typeof parsed[1] !== 'string'
  ) {
    throw bad();
  }
  return parsed[1];
}

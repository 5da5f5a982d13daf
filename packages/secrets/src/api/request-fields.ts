import { invalidArgument, parseDuration } from '@parley/core';

/** A request body's JSON object, as plain values. */
export type JsonObjectBody = Readonly<Record<string, unknown>>;

const MAX_VERSIONS_LISTED = 1000;
const MAX_CUSTOM_METADATA_KEYS = 64;
const MAX_CUSTOM_KEY_BYTES = 128;
const MAX_CUSTOM_VALUE_BYTES = 512;

function isPlainObject(value: unknown): value is JsonObjectBody {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` as a JSON object, or an invalid-argument error naming `what`. */
export function requireObject(value: unknown, what: string): JsonObjectBody {
  if (!isPlainObject(value)) throw invalidArgument(`${what} must be a JSON object`);
  return value;
}

/** Refuses any key of `body` not in `allowed` (unknown fields are errors, never ignored). */
export function strictKeys(body: JsonObjectBody, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key))
      throw invalidArgument(`${what}: unknown field "${key.slice(0, 64)}"`);
  }
}

/** An optional integer field ≥ `min` (Vault sends numbers; a numeric string is accepted too). */
export function optionalInteger(
  body: JsonObjectBody,
  key: string,
  min: number,
): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^(0|[1-9][0-9]{0,14})$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) {
    throw invalidArgument(`${key} must be an integer ≥ ${min}`);
  }
  return n;
}

/** An optional boolean field. */
export function optionalBoolean(body: JsonObjectBody, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidArgument(`${key} must be true or false`);
  return v;
}

/** An optional duration field: seconds as a number, or a string such as `3h25m19s` or `0s`. */
export function optionalDurationMs(body: JsonObjectBody, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw invalidArgument(`${key} must be a duration`);
    return v * 1000;
  }
  if (typeof v !== 'string') throw invalidArgument(`${key} must be a duration`);
  return parseDuration(v);
}

/** An optional map of strings to strings (custom_metadata, with Vault's size limits). */
export function optionalStringMap(
  body: JsonObjectBody,
  key: string,
): Record<string, string> | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  const map = requireObject(v, key);
  const entries = Object.entries(map);
  if (entries.length > MAX_CUSTOM_METADATA_KEYS) {
    throw invalidArgument(`${key} has more than ${MAX_CUSTOM_METADATA_KEYS} keys`);
  }
  const out: Record<string, string> = {};
  for (const [k, value] of entries) {
    if (typeof value !== 'string')
      throw invalidArgument(`${key}.${k.slice(0, 64)} must be a string`);
    if (k === '' || Buffer.byteLength(k) > MAX_CUSTOM_KEY_BYTES) {
      throw invalidArgument(`${key} keys must have 1 to ${MAX_CUSTOM_KEY_BYTES} bytes`);
    }
    if (Buffer.byteLength(value) > MAX_CUSTOM_VALUE_BYTES) {
      throw invalidArgument(`${key} values must have at most ${MAX_CUSTOM_VALUE_BYTES} bytes`);
    }
    Object.defineProperty(out, k, { value, enumerable: true, writable: true });
  }
  return out;
}

/** The `versions` of a delete/undelete/destroy request: a non-empty list of integers ≥ 1. */
export function requireVersions(value: unknown): number[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_VERSIONS_LISTED) {
    throw invalidArgument(`versions must be a list of 1 to ${MAX_VERSIONS_LISTED} versions`);
  }
  return value.map((v) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
      throw invalidArgument('versions must be integers ≥ 1');
    }
    return v;
  });
}

import {
  ParleyError,
  SpiffeId,
  TrustDomain,
  invalidArgument,
  parseSpiffeId,
  parseTrustDomain,
} from '@parley/core';
import type { Transaction } from '../database.js';

/** A SPIFFE ID read back from a column; a value that no longer parses means a corrupt row. */
export function storedSpiffeId(text: string, where: string): SpiffeId {
  try {
    return parseSpiffeId(text);
  } catch (error) {
    throw new ParleyError('internal', `stored SPIFFE ID of ${where} is invalid`, { cause: error });
  }
}

/** A trust domain read back from a column. */
export function storedTrustDomain(text: string, where: string): TrustDomain {
  try {
    return parseTrustDomain(text);
  } catch (error) {
    throw new ParleyError('internal', `stored trust domain of ${where} is invalid`, {
      cause: error,
    });
  }
}

/** A JSON array of strings read back from a column. */
export function storedStrings(text: string, where: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((s: unknown) => typeof s === 'string')) {
    throw new ParleyError('internal', `stored list of ${where} is corrupt`);
  }
  return parsed;
}

/** Fails with a RangeError unless `value` is a non-negative integer (ms, seconds, a revision). */
export function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer`);
  }
}

/** Fails with a TypeError unless `value` is a parsed SpiffeId (not, say, a bare string). */
export function checkSpiffeId(name: string, value: SpiffeId): void {
  if (!(value instanceof SpiffeId)) throw new TypeError(`${name} must be a SpiffeId`);
}

/** Fails with a TypeError unless `value` is a parsed TrustDomain. */
export function checkTrustDomain(name: string, value: TrustDomain): void {
  if (!(value instanceof TrustDomain)) throw new TypeError(`${name} must be a TrustDomain`);
}

/** Fails with a TypeError when a function that needs a transaction is handed something else. */
export function checkTransaction(what: string, tx: Transaction): void {
  if (tx?.inTransaction !== true) throw new TypeError(`${what} must run inside a transaction`);
}

/** Converts a stored 0/1 flag. */
export function storedFlag(value: number): boolean {
  return value === 1;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Fails unless `value` is a string both engines store unchanged: PostgreSQL refuses NUL, and a
 * lone surrogate would be stored as U+FFFD (so a row would disagree with its JSON copy).
 */
export function checkText(name: string, value: string): void {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
  if (value.includes('\0') || LONE_SURROGATE.test(value)) {
    throw invalidArgument(`${name} must be valid Unicode text without NUL`);
  }
}

import { invalidArgument } from '../errors.js';

/** A non-negative span of time in milliseconds, only obtainable by parsing or `durationMs`. */
export type Duration = number & { readonly __brand: 'Duration' };

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
const PART = /(\d{1,12})(ms|s|m|h|d)/y;
const MAX_MS = Number.MAX_SAFE_INTEGER;

/**
 * Parses a duration as the CLI and config accept it (DESIGN §4): `90` (seconds), `90s`, `15m`,
 * `1h`, `1h30m`, `500ms`, `2d`. Units appear in decreasing order, each at most once.
 */
export function parseDuration(text: string): Duration {
  if (/^\d{1,12}$/.test(text)) return (Number(text) * 1000) as Duration;
  let total = 0;
  let pos = 0;
  let lastUnit = Infinity;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const match = PART.exec(text);
    const unit = match?.[2];
    if (match === null || unit === undefined) break;
    const size = UNIT_MS[unit] ?? 0;
    if (size >= lastUnit)
      throw invalidArgument(`invalid duration "${text.slice(0, 64)}": units must decrease`);
    lastUnit = size;
    total += Number(match[1]) * size;
    pos = PART.lastIndex;
  }
  if (text.length === 0 || pos !== text.length) {
    throw invalidArgument(
      `invalid duration "${text.slice(0, 64)}": expected e.g. 90, 90s, 15m, 1h30m, 500ms`,
    );
  }
  if (total > MAX_MS) throw invalidArgument(`invalid duration "${text.slice(0, 64)}": too large`);
  return total as Duration;
}

/** A Duration from a number of milliseconds (a non-negative safe integer). */
export function durationMs(ms: number): Duration {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`invalid duration ${ms}ms`);
  return ms as Duration;
}

/** Formats a duration the way `parseDuration` reads it back, e.g. `1h30m`, `500ms`, `0s`. */
export function formatDuration(d: Duration): string {
  if (d === 0) return '0s';
  let rest: number = d;
  let out = '';
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

import { invalidArgument } from '@parley/core';

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-](\d{2}):(\d{2}))$/;

/**
 * Parses an RFC 3339 date-time (e.g. `2030-01-01T00:00:00Z`, `…T02:00:00.5+02:00`) into
 * milliseconds since the epoch. Rejects, never normalizes: impossible dates such as February 30th,
 * leap seconds and times before 1970 are errors.
 */
export function parseTimestamp(text: string): number {
  const bad = (why: string) =>
    invalidArgument(
      `invalid time "${text.slice(0, 40)}": ${why} (RFC 3339, e.g. 2030-01-01T00:00:00Z)`,
    );
  const m = RFC3339.exec(text);
  if (m === null) throw bad('not a date-time');
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fraction = Number(`0.${m[7] ?? '0'}`);
  const base = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(base);
  if (
    month < 1 ||
    month > 12 ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day
  ) {
    throw bad('no such date or time');
  }
  const offsetHours = Number(m[9] ?? 0);
  const offsetMinutes = Number(m[10] ?? 0);
  if (offsetHours > 23 || offsetMinutes > 59) throw bad('no such offset');
  const sign = m[8]?.startsWith('-') === true ? -1 : 1;
  const ms =
    base + Math.floor(fraction * 1000) - sign * (offsetHours * 60 + offsetMinutes) * 60_000;
  if (!Number.isSafeInteger(ms) || ms < 0) throw bad('before 1970');
  return ms;
}

/** Formats milliseconds since the epoch as an RFC 3339 UTC date-time, e.g. `2030-01-01T00:00:00.000Z`. */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}

import { type ConfigProblem, ObjectReader, invalidArgument } from '@parley/core';
import type { Selector } from '../entries/registration-entry.js';

/** Problems longer than this are cut, so an error never echoes a large input back. */
const MAX_PROBLEM_TEXT = 200;

/**
 * Reads a request body strictly with `read` (core's `ObjectReader`: typed fields, unknown keys are
 * errors) and fails with one invalid-argument error listing every problem on one line.
 */
export function readRequest<T>(
  value: unknown,
  what: string,
  read: (r: ObjectReader, problems: ConfigProblem[]) => T,
): T {
  const problems: ConfigProblem[] = [];
  const root = new ObjectReader(value, '', problems);
  const result = read(root, problems);
  root.reportUnknown();
  if (problems.length > 0) {
    const list = problems
      .slice(0, 10)
      .map((p) => `${(p.path || '(body)').slice(0, 64)}: ${p.message}`.slice(0, MAX_PROBLEM_TEXT));
    const more = problems.length > 10 ? `; and ${problems.length - 10} more` : '';
    throw invalidArgument(`invalid ${what}: ${list.join('; ')}${more}`);
  }
  return result;
}

/** An optional list of strings (absent: empty). */
export function readStrings(r: ObjectReader, key: string): string[] {
  const out: string[] = [];
  r.array(key, (v) => v).forEach((v, i) => {
    if (typeof v === 'string') out.push(v);
    else r.problem(`${key}[${i}]`, 'must be a string');
  });
  return out;
}

/** An optional list of strings, each parsed by `parse` (absent: empty). */
export function readParsedStrings<T>(r: ObjectReader, key: string, parse: (s: string) => T): T[] {
  const out: T[] = [];
  readStrings(r, key).forEach((s, i) => {
    try {
      out.push(parse(s));
    } catch (err) {
      r.problem(`${key}[${i}]`, (err as Error).message);
    }
  });
  return out;
}

/** A list of `{ type, value }` selectors; their rules are checked by entry validation. */
export function readSelectors(
  r: ObjectReader,
  key: string,
  problems: ConfigProblem[],
  required: boolean,
): Selector[] {
  if (required && !r.has(key)) r.problem(key, 'is required');
  return r.array(key, (v, path) => {
    const item = new ObjectReader(v, path, problems);
    const selector = { type: item.string('type'), value: item.string('value') };
    item.reportUnknown();
    return selector;
  });
}

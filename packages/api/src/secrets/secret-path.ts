import { invalidArgument } from '@parley/core';

/** A secret's path under its mount (`app/orders/db`), only obtainable from `parseSecretPath`. */
export type SecretPath = string & { readonly __brand: 'SecretPath' };

/** A folder to list (`''` for the root, `app/orders`), only obtainable from `parseSecretFolder`. */
export type SecretFolder = string & { readonly __brand: 'SecretFolder' };

/** A path pattern of a SecretPolicy rule: segments, `*` for one, a final `**` for any number. */
export interface SecretPathGlob {
  readonly text: string;
  readonly segments: readonly string[];
  /** True when the pattern ends with `**` (zero or more further segments). */
  readonly rest: boolean;
}

const MAX_PATH_BYTES = 512;
const MAX_SEGMENT = 128;
const MAX_DEPTH = 32;
// Nothing that ever needs percent-encoding, so an encoded byte is refused rather than decoded
// (the Vault/OpenBao glob-policy advisories: `..`, encoded dots, `//` and trailing spaces).
const SEGMENT = /^[A-Za-z0-9_.@=+,-]+$/;

function segmentProblem(segment: string): string | undefined {
  if (segment === '') return 'has an empty segment (a leading, trailing or double slash)';
  if (segment === '.' || segment === '..') return `has a "${segment}" segment`;
  if (segment.length > MAX_SEGMENT) return `has a segment longer than ${MAX_SEGMENT} characters`;
  if (!SEGMENT.test(segment)) {
    return 'may hold only letters, digits and _ . @ = + , - in its segments';
  }
  return undefined;
}

function checkSegments(
  text: string,
  what: string,
  allow?: (s: string, last: boolean) => boolean,
): string[] {
  if (Buffer.byteLength(text, 'utf8') > MAX_PATH_BYTES) {
    throw invalidArgument(`${what} is longer than ${MAX_PATH_BYTES} bytes`);
  }
  const segments = text.split('/');
  if (segments.length > MAX_DEPTH)
    throw invalidArgument(`${what} is deeper than ${MAX_DEPTH} segments`);
  for (const [i, s] of segments.entries()) {
    if (allow?.(s, i === segments.length - 1) === true) continue;
    const problem = segmentProblem(s);
    if (problem !== undefined) throw invalidArgument(`${what} "${text.slice(0, 64)}" ${problem}`);
  }
  return segments;
}

/** Parses a secret path; anything else than plain segments is refused, never normalized. */
export function parseSecretPath(text: string): SecretPath {
  if (text === '') throw invalidArgument('a secret path must not be empty');
  checkSegments(text, 'secret path');
  return text as SecretPath;
}

/** Parses a folder to list: `''` (the root) or a path, with an optional trailing `/`. */
export function parseSecretFolder(text: string): SecretFolder {
  const folder = text.endsWith('/') ? text.slice(0, -1) : text;
  if (folder === '') return '' as SecretFolder; // `''` or `/`: the root
  checkSegments(folder, 'secret folder');
  return folder as SecretFolder;
}

/** Parses a SecretPolicy path pattern: plain segments, `*` (one segment), a final `**`. */
export function parseSecretPathGlob(text: string): SecretPathGlob {
  if (text === '') throw invalidArgument('a path pattern must not be empty');
  const segments = checkSegments(
    text,
    'path pattern',
    (s, last) => s === '*' || (last && s === '**'),
  );
  const rest = segments.at(-1) === '**';
  return { text, segments: rest ? segments.slice(0, -1) : segments, rest };
}

/** Whether `path` (a SecretPath, or a SecretFolder with `''` for the root) matches `glob`. */
export function matchSecretPathGlob(glob: SecretPathGlob, path: string): boolean {
  const segments = path === '' ? [] : path.split('/');
  if (
    glob.rest ? segments.length < glob.segments.length : segments.length !== glob.segments.length
  ) {
    return false;
  }
  return glob.segments.every((g, i) => g === '*' || g === segments[i]);
}

import { invalidArgument } from '../errors.js';
import { checkedTrustDomain, type TrustDomain, trustDomainProblem } from './trust-domain.js';

/** SPIFFE-ID §2.3: SPIFFE IDs are at most 2048 bytes. */
export const MAX_SPIFFE_ID_BYTES = 2048;

const SCHEME = 'spiffe://';

/**
 * Checks a path (SPIFFE-ID §2.2): empty, or `/`-separated segments that are non-empty, not `.` or
 * `..`, made only of `[a-zA-Z0-9.-_]`, with no trailing `/`. Returns the reason, or undefined.
 */
export function pathProblem(path: string): string | undefined {
  if (path === '') return undefined;
  if (path[0] !== '/') return 'path must start with /';
  let segStart = 1;
  for (let i = 1; i <= path.length; i++) {
    if (i === path.length || path[i] === '/') {
      const seg = path.slice(segStart, i);
      if (seg === '')
        return i === path.length
          ? 'path cannot have a trailing slash'
          : 'path cannot contain empty segments';
      if (seg === '.' || seg === '..') return 'path cannot contain dot segments';
      segStart = i + 1;
      continue;
    }
    const c = path.charCodeAt(i);
    const ok =
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2e ||
      c === 0x2d ||
      c === 0x5f;
    if (!ok) {
      if (path[i] === '%') return 'path cannot contain percent-encoded characters';
      if (path[i] === '?') return 'SPIFFE ID cannot contain a query';
      if (path[i] === '#') return 'SPIFFE ID cannot contain a fragment';
      return 'path segment characters are limited to letters, numbers, dots, dashes, and underscores';
    }
  }
  return undefined;
}

let make: (td: TrustDomain, path: string) => SpiffeId;

/** A SPIFFE ID (SPIFFE-ID §2): a trust domain and a path; only `parseSpiffeId` constructs one. */
export class SpiffeId {
  static {
    make = (td, path) => new SpiffeId(td, path);
  }

  private constructor(
    /** The trust domain the ID belongs to. */
    readonly trustDomain: TrustDomain,
    /** The path, `''` or starting with `/`. */
    readonly path: string,
  ) {}

  /** True when the ID names a trust domain only (no path), as signing certificates do. */
  get isRoot(): boolean {
    return this.path === '';
  }

  /** True when both are the same ID. */
  equals(other: SpiffeId): boolean {
    return this.path === other.path && this.trustDomain.equals(other.trustDomain);
  }

  /** True when this ID is in `td`. */
  memberOf(td: TrustDomain): boolean {
    return this.trustDomain.equals(td);
  }

  toString(): string {
    return SCHEME + this.trustDomain.name + this.path;
  }

  toJSON(): string {
    return this.toString();
  }
}

/**
 * Parses a SPIFFE ID (SPIFFE-ID §2, §2.3). Rejects, never normalizes: the scheme must be exactly
 * `spiffe://` (lowercase), the trust domain lowercase `[a-z0-9.-_]` of at most 255 bytes, no
 * userinfo, port, query, fragment or percent-encoding, the path per `pathProblem`, and the whole
 * ID at most 2048 bytes.
 */
export function parseSpiffeId(text: string): SpiffeId {
  const problem = spiffeIdProblem(text);
  if (problem !== undefined) throw invalidArgument(`invalid SPIFFE ID: ${problem}`);
  return checkedSpiffeId(text);
}

/**
 * Internal to core: the SpiffeId of text already checked by `spiffeIdProblem`. Not exported
 * from the package.
 */
export function checkedSpiffeId(text: string): SpiffeId {
  const slash = text.indexOf('/', SCHEME.length);
  const end = slash === -1 ? text.length : slash;
  return make(checkedTrustDomain(text.slice(SCHEME.length, end)), text.slice(end));
}

/** Why `text` is not a valid SPIFFE ID, or undefined when it is one. */
export function spiffeIdProblem(text: string): string | undefined {
  if (text.length === 0) return 'SPIFFE ID is empty';
  if (!text.startsWith(SCHEME))
    return 'scheme is missing or invalid (must be spiffe:// in lowercase)';
  const slash = text.indexOf('/', SCHEME.length);
  const end = slash === -1 ? text.length : slash;
  const td = text.slice(SCHEME.length, end);
  // A query or fragment directly after the trust domain is reported as such.
  const q = td.search(/[?#]/);
  if (q !== -1)
    return td[q] === '?'
      ? 'SPIFFE ID cannot contain a query'
      : 'SPIFFE ID cannot contain a fragment';
  const tdProblem = trustDomainProblem(td);
  if (tdProblem !== undefined) return tdProblem;
  const pProblem = pathProblem(text.slice(end));
  if (pProblem !== undefined) return pProblem;
  if (Buffer.byteLength(text, 'utf8') > MAX_SPIFFE_ID_BYTES)
    return `SPIFFE ID exceeds ${MAX_SPIFFE_ID_BYTES} bytes`;
  return undefined;
}

/** Builds a SPIFFE ID in `td` from path segments, each checked (e.g. `['ns', 'prod']`). */
export function spiffeIdFromSegments(td: TrustDomain, ...segments: readonly string[]): SpiffeId {
  for (const segment of segments) {
    // Each segment is checked alone, so one segment can never smuggle in a `/` and become two.
    const problem = segment.includes('/')
      ? 'path segments cannot contain slashes'
      : pathProblem('/' + segment);
    if (problem !== undefined) throw invalidArgument(`invalid SPIFFE ID path segment: ${problem}`);
  }
  const path = segments.map((s) => '/' + s).join('');
  return parseSpiffeId(td.idString() + path);
}

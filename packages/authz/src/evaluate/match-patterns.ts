import type {
  Cidr,
  HostPattern,
  PathPattern,
  StringPattern,
  TemplateSegment,
} from '../model/policy.js';

/**
 * How a policy's conditions read ambiguous input: an ALLOW policy (`strict`) matches only when
 * every reading matches; DENY and AUDIT policies (`loose`) match when any reading does. So a
 * request that can be read two ways is never allowed by one reading and let past a DENY by another.
 */
export type MatchMode = 'strict' | 'loose';

/** True when `value` matches a string pattern. */
export function matchString(p: StringPattern, value: string, ignoreCase = false): boolean {
  if (p.kind === 'any') return true;
  const v = ignoreCase ? value.toLowerCase() : value;
  const want = ignoreCase ? p.value.toLowerCase() : p.value;
  switch (p.kind) {
    case 'exact':
      return v === want;
    case 'prefix':
      // `/api/*` also matches `/api` itself.
      return v.startsWith(want) || (want.endsWith('/') && v === want.slice(0, -1));
    case 'suffix':
      return v.endsWith(want);
  }
}

/**
 * True when a normalized path matches a path pattern; a trailing slash is insignificant (`/admin`
 * matches `/admin/`), as most applications serve both alike.
 */
export function matchPath(p: PathPattern, path: string, ignoreCase: boolean): boolean {
  const candidates = path.length > 1 && path.endsWith('/') ? [path, path.slice(0, -1)] : [path];
  return candidates.some((c) =>
    p.kind === 'template'
      ? matchTemplate(p.segments, c.split('/').slice(1), ignoreCase)
      : matchString(p, c, ignoreCase),
  );
}

function matchTemplate(
  pattern: readonly TemplateSegment[],
  segments: readonly string[],
  ignoreCase: boolean,
): boolean {
  const [head, ...rest] = pattern;
  if (head === undefined) return segments.length === 0;
  if (typeof head === 'string') {
    const s = segments[0];
    if (s === undefined) return false;
    const same = ignoreCase ? s.toLowerCase() === head.toLowerCase() : s === head;
    return same && matchTemplate(rest, segments.slice(1), ignoreCase);
  }
  if (head.wildcard === '*') {
    return (
      segments[0] !== undefined &&
      segments[0] !== '' &&
      matchTemplate(rest, segments.slice(1), ignoreCase)
    );
  }
  for (let i = 0; i <= segments.length; i++) {
    if (matchTemplate(rest, segments.slice(i), ignoreCase)) return true;
  }
  return false;
}

/** True when a normalized host matches a host pattern (a pattern without a port matches any). */
export function matchHost(p: HostPattern, name: string, port: number | undefined): boolean {
  if (p.port !== undefined && p.port !== port) return false;
  return matchString(p.name, name, true);
}

/** Parses an IPv4 or IPv6 address (no brackets, no zone) into its bytes, or undefined. */
export function parseIpBytes(text: string): number[] | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4 !== null) {
    const bytes = v4.slice(1).map(Number);
    return bytes.every((b) => b <= 255) ? bytes : undefined;
  }
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(':')) return undefined;
  let tail: number[] = [];
  let body = text;
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted !== null) {
    const v4bytes = parseIpBytes(dotted[2] ?? '');
    if (v4bytes === undefined) return undefined;
    tail = v4bytes;
    body = `${dotted[1] ?? ''}0:0`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const left = groups(halves[0] ?? '');
  const right = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right];
  if (!all.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return undefined;
  const bytes = all.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
  if (tail.length > 0) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** True when an address (bytes) lies in a network; IPv4-mapped IPv6 matches IPv4 networks. */
export function inCidr(c: Cidr, address: readonly number[]): boolean {
  let a = address;
  if (c.bytes.length === 4 && a.length === 16 && isV4Mapped(a)) a = a.slice(12);
  if (a.length !== c.bytes.length) return false;
  let bits = c.prefixLength;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((a[i] ?? 0) & mask) !== ((c.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

function isV4Mapped(a: readonly number[]): boolean {
  return a.slice(0, 10).every((b) => b === 0) && a[10] === 0xff && a[11] === 0xff;
}

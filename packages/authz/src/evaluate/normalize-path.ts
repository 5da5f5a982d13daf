/** A normalized request path, or why the request is refused. */
export type NormalizedPath =
  { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
// Visible ASCII that may appear in a path as sent (RFC 3986 pchar, '/', '%'); anything else —
// controls, spaces, non-ASCII, '\\', '"', '<', '>', '^', '`', '{', '|', '}' — is refused.
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,=:@/%]*$/;

/**
 * Normalizes the `:path` of a request as Envoy forwards it with `normalize_path: true`,
 * `merge_slashes: true` and `path_with_escaped_slashes_action: REJECT_REQUEST`: drops the query
 * and fragment, decodes percent-encoded unreserved characters (and upper-cases other escapes),
 * removes `.`/`..` segments (RFC 3986 §5.2.4), merges repeated slashes. It refuses, rather than
 * guesses at, what an application behind the proxy might read differently: `%2F`/`%5C`, `%00`,
 * backslashes, `;` path parameters, malformed escapes and characters outside RFC 3986.
 */
export function normalizePath(raw: string): NormalizedPath {
  let path = raw;
  const hash = path.indexOf('#');
  if (hash >= 0) path = path.slice(0, hash);
  const query = path.indexOf('?');
  if (query >= 0) path = path.slice(0, query);
  if (path.length > 8192) return refuse('the path is longer than 8192 characters');
  if (!path.startsWith('/')) return refuse('the path does not start with "/"');
  if (path.includes('\\')) return refuse('the path contains a backslash');
  if (path.includes(';')) return refuse('the path contains ";" (path parameters)');
  if (!PATH_CHARS.test(path)) return refuse('the path contains a character outside RFC 3986');
  let decoded = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i] as string;
    if (c !== '%') {
      decoded += c;
      continue;
    }
    const hex = path.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return refuse('the path has a malformed percent escape');
    const upper = hex.toUpperCase();
    if (upper === '2F' || upper === '5C') {
      return refuse(`the path contains an escaped ${upper === '2F' ? 'slash' : 'backslash'}`);
    }
    if (upper === '00') return refuse('the path contains an escaped NUL');
    const ch = String.fromCharCode(parseInt(hex, 16));
    decoded += UNRESERVED.test(ch) ? ch : `%${upper}`;
    i += 2;
  }
  return { ok: true, path: mergeSlashes(removeDotSegments(decoded)) };
}

function refuse(reason: string): NormalizedPath {
  return { ok: false, reason };
}

function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/').slice(1);
  segments.forEach((s, i) => {
    const last = i === segments.length - 1;
    if (s === '.') {
      if (last) out.push('');
    } else if (s === '..') {
      out.pop();
      if (last) out.push('');
    } else {
      out.push(s);
    }
  });
  return `/${out.join('/')}`;
}

function mergeSlashes(path: string): string {
  return path.replace(/\/{2,}/g, '/');
}

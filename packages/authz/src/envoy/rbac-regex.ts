// RE2 regexes for Envoy's RBAC filter. Envoy compiles them in Latin-1 mode (one byte per
// character: `.` is any byte, `\xHH` a byte) and refuses a program larger than
// `re2.max_program_size.error_level` (100 by default), so each regex built here stays small and
// every builder states the language it matches.

/** Envoy's default limit on an RE2 program (`re2.max_program_size.error_level`). */
export const RE2_MAX_PROGRAM_SIZE = 100;

/** Escapes `text` (printable ASCII) as an RE2 literal. */
export function reLiteral(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, (c) => `\\${c}`);
}

/** A character class of the characters of `chars` (printable ASCII), negated with `negate`. */
export function reClass(chars: string, negate = false): string {
  const body = [...new Set(chars)]
    .sort()
    .map((c) => (/[\\\]^-]/.test(c) ? `\\${c}` : c))
    .join('');
  return `[${negate ? '^' : ''}${body}]`;
}

/** True when `text` holds only printable ASCII, space and tab (what RBAC regexes are built from). */
export function isPlainAscii(text: string): boolean {
  return /^[\t\x20-\x7e]*$/.test(text);
}

/**
 * JavaScript's `String.prototype.trim` whitespace as UTF-8 byte sequences: a header value reaches
 * the evaluator decoded from UTF-8 and is trimmed with `trim()`, while RBAC's regex sees its bytes.
 * (LF and CR never occur in a header value.)
 */
export const RE_TRIM_SPACE =
  '(?:[\\t\\x0b\\x0c ]|\\xc2\\xa0|\\xe1\\x9a\\x80|\\xe2(?:\\x80[\\x80-\\x8a\\xa8\\xa9\\xaf]|\\x81\\x9f)|\\xe3\\x80\\x80|\\xef\\xbb\\xbf)';

/** One character (printable ASCII) of a regex, case-insensitively when it is a letter. */
export function reCaseless(c: string): string {
  const lower = c.toLowerCase();
  const upper = c.toUpperCase();
  return lower === upper ? reLiteral(c) : `[${upper}${lower}]`;
}

/**
 * A regex matching exactly the strings that match none of `patterns` — exact strings and
 * prefixes, printable ASCII — or undefined when every string matches one of them. Built from the
 * trie of the patterns: at each node a string may end (unless a pattern ends there), continue with
 * a character no pattern continues with, or follow a pattern further.
 */
export function reComplement(
  patterns: readonly { readonly kind: 'exact' | 'prefix'; readonly value: string }[],
): string | undefined {
  interface Node {
    exact: boolean;
    prefix: boolean;
    readonly children: Map<string, Node>;
  }
  const node = (): Node => ({ exact: false, prefix: false, children: new Map() });
  const root = node();
  for (const p of patterns) {
    let n = root;
    for (const c of p.value) {
      let next = n.children.get(c);
      if (next === undefined) {
        next = node();
        n.children.set(c, next);
      }
      n = next;
    }
    if (p.kind === 'exact') n.exact = true;
    else n.prefix = true;
  }
  const walk = (n: Node): string | undefined => {
    if (n.prefix) return undefined;
    const alternatives: string[] = [];
    if (!n.exact) alternatives.push('');
    const chars = [...n.children.keys()].join('');
    alternatives.push(chars === '' ? '.+' : `${reClass(chars, true)}.*`);
    for (const [c, child] of [...n.children].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const rest = walk(child);
      if (rest !== undefined) alternatives.push(`${reLiteral(c)}${rest}`);
    }
    return `(?:${alternatives.join('|')})`;
  };
  const body = walk(root);
  return body === undefined ? undefined : `(?s)${body}`;
}

/**
 * A conservative estimate of the RE2 program size of `regex` (as Envoy measures it, Latin-1):
 * one instruction per literal byte, `.`, `*`, `?` and alternation (one more for an empty
 * alternative), two for `+`, one per byte range of a class, a counted repetition copies its
 * atom, plus a fixed overhead. Checked against the sizes Envoy reports.
 */
export function estimateProgramSize(regex: string): number {
  let size = 5;
  let last = 0;
  for (let i = 0; i < regex.length; i++) {
    const c = regex[i] as string;
    if (c === '(') {
      const flags = /^\(\?[a-zA-Z]*(?::|\))/.exec(regex.slice(i));
      if (flags !== null) i += flags[0].length - 1;
      if (regex[i + 1] === '|') size += 1;
      last = 0;
      continue;
    }
    if (c === ')') {
      last = 0;
      continue;
    }
    if (c === '|') {
      size += regex[i + 1] === '|' || regex[i + 1] === ')' ? 2 : 1;
      continue;
    }
    if (c === '*' || c === '?' || c === '+') {
      size += c === '+' ? 2 : 1;
      continue;
    }
    if (c === '{') {
      const m = /^\{(\d+)(?:,(\d*))?\}/.exec(regex.slice(i));
      if (m !== null) {
        const max = Math.max(Number(m[1]), Number(m[2] ?? 0) || 0, 1);
        size += last * max + max;
        i += m[0].length - 1;
        continue;
      }
    }
    if (c === '[') {
      const end = classEnd(regex, i);
      last = classRanges(regex.slice(i + 1, end));
      size += last;
      i = end;
      continue;
    }
    if (c === '\\') i += regex[i + 1] === 'x' ? 3 : 1;
    last = 1;
    size += 1;
  }
  return size;
}

/** The index of the `]` closing the class opened at `start`. */
function classEnd(regex: string, start: number): number {
  for (let j = start + 1; j < regex.length; j++) {
    if (regex[j] === '\\') j += regex[j + 1] === 'x' ? 3 : 1;
    else if (regex[j] === ']') return j;
  }
  return regex.length;
}

/** How many disjoint byte ranges a class body (`^` included) stands for. */
function classRanges(body: string): number {
  const negate = body.startsWith('^');
  const ranges: [number, number][] = [];
  let j = negate ? 1 : 0;
  const unit = (): number => {
    const ch = body[j] as string;
    if (ch !== '\\') {
      j += 1;
      return ch.charCodeAt(0);
    }
    if (body[j + 1] === 'x') {
      const code = parseInt(body.slice(j + 2, j + 4), 16);
      j += 4;
      return code;
    }
    const escaped = body[j + 1] as string;
    j += 2;
    return (
      ({ t: 9, n: 10, r: 13, f: 12, v: 11 } as Record<string, number>)[escaped] ??
      escaped.charCodeAt(0)
    );
  };
  while (j < body.length) {
    const lo = unit();
    let hi = lo;
    if (body[j] === '-' && j + 1 < body.length) {
      j += 1;
      hi = unit();
    }
    ranges.push([lo, hi]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [lo, hi] of ranges) {
    const top = merged[merged.length - 1];
    if (top !== undefined && lo <= top[1] + 1) top[1] = Math.max(top[1], hi);
    else merged.push([lo, hi]);
  }
  if (!negate) return Math.max(1, merged.length);
  let gaps = 0;
  let next = 0;
  for (const [lo, hi] of merged) {
    if (lo > next) gaps++;
    next = hi + 1;
  }
  if (next <= 0xff) gaps++;
  return Math.max(1, gaps);
}

/** True when `regex` is (by the estimate) small enough for Envoy's default RE2 limit. */
export function fitsProgramSize(regex: string): boolean {
  return estimateProgramSize(regex) <= RE2_MAX_PROGRAM_SIZE;
}

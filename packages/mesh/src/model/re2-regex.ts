/** The longest regex accepted in a mesh config (Envoy compiles regexes with RE2). */
export const MAX_REGEX_LENGTH = 256;

/** RE2's default program-size limit as Envoy applies it (`re2.max_program_size.error_level`). */
export const MAX_REGEX_PROGRAM_SIZE = 100;

/**
 * Why `pattern` would not work as an Envoy (RE2) regex, or undefined when it does: too long,
 * constructs RE2 lacks (lookaround, backreferences, atomic groups, possessive quantifiers),
 * bad syntax, or an estimated program size over Envoy's limit.
 */
export function re2RegexProblem(pattern: string): string | undefined {
  if (pattern.length === 0) return 'must not be empty';
  if (pattern.length > MAX_REGEX_LENGTH) return `is longer than ${MAX_REGEX_LENGTH} characters`;
  let jsPattern = '';
  let size = 0;
  let lastAtomSize = 0;
  const groupStarts: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next)) return 'uses a backreference, which RE2 does not support';
      if (next === 'k') return 'uses a named backreference, which RE2 does not support';
      if (next === '') return 'ends with a lone backslash';
      // RE2's \A and \z have no JS equivalent with the same spelling.
      jsPattern += next === 'A' ? '^' : next === 'z' ? '$' : c + next;
      i++;
      lastAtomSize = 1;
      size += 1;
      continue;
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i + 2);
      if (/^(=|!|<=|<!)/.test(rest)) return 'uses a lookaround, which RE2 does not support';
      if (rest.startsWith('>')) return 'uses an atomic group, which RE2 does not support';
      const named = /^P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
      if (named !== null) {
        jsPattern += `(?<${named[1] ?? ''}>`;
        i += 1 + named[0].length;
        groupStarts.push(size);
        size += 1;
        continue;
      }
      const flags = /^([imsU]*)(?:-([imsU]*))?(:|\))/.exec(rest);
      if (flags !== null) {
        // Flags are checked for syntax only; JS cannot express them inline.
        if (flags[3] === ':') {
          jsPattern += '(?:';
          groupStarts.push(size);
        }
        i += 1 + flags[0].length;
        continue;
      }
      return `has an unsupported group "(?${rest.slice(0, 3)}"`;
    }
    if ((c === '+' || c === '*' || c === '?' || c === '}') && /[+]/.test(pattern[i + 1] ?? '')) {
      return 'uses a possessive quantifier, which RE2 does not support';
    }
    if (c === '{') {
      const m = /^\{(\d+)(?:,(\d*))?\}/.exec(pattern.slice(i));
      if (m !== null) {
        const max = Math.max(Number(m[1]), m[2] === undefined || m[2] === '' ? 1 : Number(m[2]));
        if (max > 1000) return 'repeats more than 1000 times, the RE2 limit';
        // Counted repetition copies the repeated atom.
        size += lastAtomSize * Math.max(0, max - 1) + 1;
        jsPattern += m[0];
        i += m[0].length - 1;
        continue;
      }
    }
    if (c === '[') {
      const end = classEnd(pattern, i);
      if (end < 0) return 'has an unterminated character class';
      jsPattern += pattern.slice(i, end + 1);
      i = end;
      lastAtomSize = 1;
      size += 1;
      continue;
    }
    jsPattern += c;
    if (c === '(') {
      groupStarts.push(size);
      size += 1;
    } else if (c === ')') {
      size += 1;
      lastAtomSize = size - (groupStarts.pop() ?? 0);
    } else {
      size += c === '*' || c === '+' || c === '?' || c === '|' ? 2 : 1;
      if (c !== '*' && c !== '+' && c !== '?' && c !== '|') lastAtomSize = 1;
    }
  }
  try {
    new RegExp(jsPattern);
  } catch (err) {
    return `does not compile: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
  if (size > MAX_REGEX_PROGRAM_SIZE) {
    return `is too complex for Envoy (estimated RE2 program size ${size} > ${MAX_REGEX_PROGRAM_SIZE})`;
  }
  return undefined;
}

function classEnd(pattern: string, start: number): number {
  let i = start + 1;
  if (pattern[i] === '^') i++;
  if (pattern[i] === ']') i++;
  for (; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (pattern[i] === '[' && pattern[i + 1] === ':') {
      const close = pattern.indexOf(':]', i + 2);
      if (close < 0) return -1;
      i = close + 1;
    } else if (pattern[i] === ']') return i;
  }
  return -1;
}

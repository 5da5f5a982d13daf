import { invalidArgument } from '../errors.js';

/** A JSON number kept as its exact source text, so 64-bit integers lose no precision. */
export class JsonNumber {
  constructor(readonly text: string) {}

  /** True when the text is an integer literal (no fraction or exponent). */
  get isInteger(): boolean {
    return /^-?\d+$/.test(this.text);
  }

  /** The value as a bigint; undefined unless the text is an integer literal. */
  toBigInt(): bigint | undefined {
    return this.isInteger ? BigInt(this.text) : undefined;
  }

  /** The value as a double (may round). */
  toNumber(): number {
    return Number(this.text);
  }
}

/** A parsed JSON object: insertion-ordered, duplicate-free, with no prototype surprises. */
export type JsonObject = ReadonlyMap<string, JsonValue>;
/** A parsed JSON value. */
export type JsonValue = null | boolean | string | JsonNumber | readonly JsonValue[] | JsonObject;

/** Limits applied while parsing untrusted JSON. */
export interface JsonLimits {
  /** Maximum input length in UTF-16 code units (callers bound bytes before decoding). */
  readonly maxLength: number;
  /** Maximum nesting depth of arrays and objects. */
  readonly maxDepth: number;
}

const DEFAULT_LIMITS: JsonLimits = { maxLength: 1 << 20, maxDepth: 32 };

/**
 * Parses RFC 8259 JSON strictly: duplicate object keys are rejected anywhere (the SPIFFE bundle
 * spec §6.3 requires it for bundle maps; Parley applies it to every document), numbers keep their
 * exact text, and size and depth are bounded. Throws an invalid-argument ParleyError with the
 * offset of the first problem.
 */
export function parseJson(text: string, limits: Partial<JsonLimits> = {}): JsonValue {
  const { maxLength, maxDepth } = { ...DEFAULT_LIMITS, ...limits };
  if (text.length > maxLength)
    throw invalidArgument(`JSON document exceeds ${maxLength} characters`);
  let pos = 0;

  const fail = (what: string): never => {
    throw invalidArgument(`invalid JSON at offset ${pos}: ${what}`);
  };
  const skipWs = () => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else return;
    }
  };
  const literal = <T>(word: string, value: T): T => {
    if (!text.startsWith(word, pos)) fail('unexpected token');
    pos += word.length;
    return value;
  };

  const parseString = (): string => {
    pos++; // opening quote
    let out = '';
    let start = pos;
    for (;;) {
      if (pos >= text.length) fail('unterminated string');
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(start, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(start, pos);
      const e = text[pos + 1];
      pos += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = text.slice(pos, pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('invalid \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          pos += 4;
          break;
        }
        default:
          pos -= 2;
          fail('invalid escape');
      }
      start = pos;
    }
  };

  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const parseNumber = (): JsonNumber => {
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (m === null) return fail('invalid number');
    pos = NUMBER.lastIndex;
    return new JsonNumber(m[0]);
  };

  const parseValue = (depth: number): JsonValue => {
    skipWs();
    const c = text[pos];
    switch (c) {
      case '{': {
        if (depth >= maxDepth) fail(`nesting deeper than ${maxDepth}`);
        pos++;
        const obj = new Map<string, JsonValue>();
        skipWs();
        if (text[pos] === '}') {
          pos++;
          return obj;
        }
        for (;;) {
          skipWs();
          if (text[pos] !== '"') fail('expected a string key');
          const keyAt = pos;
          const key = parseString();
          if (obj.has(key)) {
            pos = keyAt;
            fail(`duplicate key ${JSON.stringify(key.slice(0, 64))}`);
          }
          skipWs();
          if (text[pos] !== ':') fail("expected ':'");
          pos++;
          obj.set(key, parseValue(depth + 1));
          skipWs();
          if (text[pos] === ',') {
            pos++;
            continue;
          }
          if (text[pos] === '}') {
            pos++;
            return obj;
          }
          fail("expected ',' or '}'");
        }
      }
      case '[': {
        if (depth >= maxDepth) fail(`nesting deeper than ${maxDepth}`);
        pos++;
        const arr: JsonValue[] = [];
        skipWs();
        if (text[pos] === ']') {
          pos++;
          return arr;
        }
        for (;;) {
          arr.push(parseValue(depth + 1));
          skipWs();
          if (text[pos] === ',') {
            pos++;
            continue;
          }
          if (text[pos] === ']') {
            pos++;
            return arr;
          }
          fail("expected ',' or ']'");
        }
      }
      case '"':
        return parseString();
      case 't':
        return literal('true', true);
      case 'f':
        return literal('false', false);
      case 'n':
        return literal('null', null);
      default:
        return parseNumber();
    }
  };

  const value = parseValue(0);
  skipWs();
  if (pos !== text.length) fail('trailing characters after the document');
  return value;
}

/** True when `v` is a parsed JSON object. */
export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return v instanceof Map;
}

/** True when `v` is a parsed JSON array. */
export function isJsonArray(v: JsonValue | undefined): v is readonly JsonValue[] {
  return Array.isArray(v);
}

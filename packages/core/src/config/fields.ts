import { ParleyError } from '../errors.js';
import { type Duration, parseDuration } from './duration.js';

/** One problem found in a config document, located by its field path (e.g. `server.ca.ttl`). */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** Thrown by `readConfig` with every problem found at once (STYLE rule 9). */
export class ConfigError extends ParleyError {
  constructor(
    readonly problems: readonly ConfigProblem[],
    what = 'config',
  ) {
    super(
      'invalid-argument',
      `invalid ${what}:\n${problems.map((p) => `  ${p.path || '(root)'}: ${p.message}`).join('\n')}`,
    );
  }
}

type Missing = typeof MISSING;
const MISSING: unique symbol = Symbol('missing');

/** A field value that failed its check, with the reason. */
class Bad {
  constructor(readonly message: string) {}
}

/**
 * Reads one config object strictly: every field read is typed, every problem is recorded with
 * its path, and keys that no reader asked for are reported as unknown by `readConfig`.
 */
export class ObjectReader {
  readonly #value: Readonly<Record<string, unknown>>;
  readonly #seen = new Set<string>();
  readonly #children = new Map<string, ObjectReader>();
  readonly #items: ObjectReader[] = [];

  constructor(
    value: unknown,
    readonly path: string,
    private readonly problems: ConfigProblem[],
  ) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.problem('', 'must be an object');
      this.#value = {};
    } else {
      this.#value = value as Record<string, unknown>;
    }
  }

  /** Records a problem at `key` under this object's path. */
  problem(key: string, message: string): void {
    this.problems.push({ path: join(this.path, key), message });
  }

  /** True when the key is present (and marks it as known). */
  has(key: string): boolean {
    this.#seen.add(key);
    return Object.hasOwn(this.#value, key);
  }

  #get(key: string): unknown {
    this.#seen.add(key);
    return Object.hasOwn(this.#value, key) ? this.#value[key] : MISSING;
  }

  #typed<T>(key: string, fallback: T | Missing, check: (v: unknown) => T | Bad): T {
    const raw = this.#get(key);
    // A missing or bad required field yields undefined: readConfig throws before it escapes.
    const none = (fallback === MISSING ? undefined : fallback) as T;
    if (raw === MISSING) {
      if (fallback === MISSING) this.problem(key, 'is required');
      return none;
    }
    const result = check(raw);
    if (result instanceof Bad) {
      this.problem(key, result.message);
      return none;
    }
    return result;
  }

  /** The raw value of a field (marked as known), for a section read by another parser. */
  raw(key: string): unknown {
    const v = this.#get(key);
    return v === MISSING ? undefined : v;
  }

  /** A string field; `fallback` makes it optional. */
  string(key: string, fallback: string | Missing = MISSING): string {
    return this.#typed(key, fallback, (v) =>
      typeof v === 'string' ? v : new Bad('must be a string'),
    );
  }

  /** An optional string field, undefined when absent. */
  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key) : undefined;
  }

  /** An integer field within [min, max]. */
  integer(
    key: string,
    fallback: number | Missing = MISSING,
    min = 0,
    max = Number.MAX_SAFE_INTEGER,
  ): number {
    return this.#typed<number>(key, fallback, (v) =>
      typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
        ? v
        : new Bad(`must be an integer between ${min} and ${max}`),
    );
  }

  /** A boolean field. */
  boolean(key: string, fallback: boolean | Missing = MISSING): boolean {
    return this.#typed<boolean>(key, fallback, (v) =>
      typeof v === 'boolean' ? v : new Bad('must be true or false'),
    );
  }

  /** A string field from a fixed set of values. */
  oneOf<T extends string>(key: string, values: readonly T[], fallback: T | Missing = MISSING): T {
    return this.#typed<T>(key, fallback, (v) =>
      typeof v === 'string' && (values as readonly string[]).includes(v)
        ? (v as T)
        : new Bad(`must be one of ${values.join(', ')}`),
    );
  }

  /** A duration field: a number of seconds or a string such as `1h30m`. */
  duration(key: string, fallback: Duration | Missing = MISSING): Duration {
    return this.#typed<Duration>(key, fallback, (v) => {
      try {
        if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)
          return parseDuration(String(v));
        if (typeof v === 'string') return parseDuration(v);
      } catch (err) {
        return new Bad(`${(err as Error).message}`);
      }
      return new Bad('must be a duration such as 90, 90s, 15m or 1h30m');
    });
  }

  /** A field parsed by `parse` (which throws on bad input); the error message becomes the problem. */
  parsed<T>(key: string, parse: (text: string) => T, fallback: T | Missing = MISSING): T {
    return this.#typed<T>(key, fallback, (v) => {
      if (typeof v !== 'string') return new Bad('must be a string');
      try {
        return parse(v);
      } catch (err) {
        return new Bad(`${(err as Error).message}`);
      }
    });
  }

  /** A nested object; absent → undefined. */
  object(key: string): ObjectReader | undefined {
    const raw = this.#get(key);
    if (raw === MISSING) return undefined;
    // One reader per key, so fields read through several calls all count as known.
    let child = this.#children.get(key);
    if (child === undefined) {
      child = new ObjectReader(raw, join(this.path, key), this.problems);
      this.#children.set(key, child);
    }
    return child;
  }

  /** An array field, each element read by `item` with its indexed path. */
  array<T>(key: string, item: (value: unknown, path: string) => T): T[] {
    const raw = this.#get(key);
    if (raw === MISSING) return [];
    if (!Array.isArray(raw)) {
      this.problem(key, 'must be a list');
      return [];
    }
    return raw.map((v, i) => item(v, `${join(this.path, key)}[${i}]`));
  }

  /** A list of objects, each read through its own reader (their unknown keys are reported too). */
  objects(key: string): ObjectReader[] {
    return this.array(key, (value, path) => {
      const item = new ObjectReader(value, path, this.problems);
      this.#items.push(item);
      return item;
    });
  }

  /** Reports every key of this object (and its nested readers) that was never read. */
  reportUnknown(): void {
    for (const key of Object.keys(this.#value)) {
      if (!this.#seen.has(key)) this.problem(key, 'unknown field');
    }
    for (const child of [...this.#children.values(), ...this.#items]) child.reportUnknown();
  }
}

function join(path: string, key: string): string {
  return path === '' ? key : key === '' ? path : `${path}.${key}`;
}

/**
 * Reads a whole config document with `read`, then throws one ConfigError listing every problem
 * (unknown keys included) or returns the frozen result.
 */
export function readConfig<T>(
  value: unknown,
  read: (root: ObjectReader) => T,
  what = 'config',
): Readonly<T> {
  const problems: ConfigProblem[] = [];
  const root = new ObjectReader(value, '', problems);
  const result = read(root);
  root.reportUnknown();
  if (problems.length > 0) throw new ConfigError(problems, what);
  return deepFreeze(result);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

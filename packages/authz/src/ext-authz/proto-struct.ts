// google.protobuf.Struct as grpc-js hands it over (protobufjs's bundled descriptor of struct.proto
// names the Value fields in camelCase even under keepCase; snake_case is accepted too).

/** Bounds on converting a Struct received from the network. */
export interface StructLimits {
  /** Nesting depth of structs and lists. */
  readonly maxDepth: number;
  /** Values in total (every field and list element counts one). */
  readonly maxNodes: number;
  /** Characters of one string or field name. */
  readonly maxString: number;
}

/** A Struct that breaks the limits or is not one. */
export class StructError extends Error {
  override readonly name = 'StructError';
}

const KINDS = [
  ['nullValue', 'null_value'],
  ['numberValue', 'number_value'],
  ['stringValue', 'string_value'],
  ['boolValue', 'bool_value'],
  ['structValue', 'struct_value'],
  ['listValue', 'list_value'],
] as const;

type Kind = (typeof KINDS)[number][0];

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/**
 * Converts a `google.protobuf.Struct` message to plain JSON (objects built with own properties
 * only, so a field named `__proto__` is data, not a prototype); throws StructError past the limits.
 */
export function structToJson(struct: unknown, limits: StructLimits): Record<string, unknown> {
  const budget = { nodes: 0 };
  return convertStruct(struct, limits, budget, 0);
}

function convertStruct(
  struct: unknown,
  limits: StructLimits,
  budget: { nodes: number },
  depth: number,
): Record<string, unknown> {
  if (depth > limits.maxDepth) throw new StructError(`nesting deeper than ${limits.maxDepth}`);
  if (!isObject(struct)) throw new StructError('expected a Struct');
  const fields = struct['fields'] ?? {};
  if (!isObject(fields)) throw new StructError('expected Struct.fields to be a map');
  const entries: [string, unknown][] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (key.length > limits.maxString) {
      throw new StructError(`a field name exceeds ${limits.maxString} characters`);
    }
    entries.push([key, convertValue(value, limits, budget, depth + 1)]);
  }
  return Object.fromEntries(entries);
}

function convertValue(
  value: unknown,
  limits: StructLimits,
  budget: { nodes: number },
  depth: number,
): unknown {
  if (++budget.nodes > limits.maxNodes)
    throw new StructError(`more than ${limits.maxNodes} values`);
  if (!isObject(value)) throw new StructError('expected a Value');
  const kind = kindOf(value);
  const v = kind === undefined ? undefined : fieldOf(value, kind);
  switch (kind) {
    case undefined:
    case 'nullValue':
      return null;
    case 'numberValue':
      if (typeof v !== 'number') throw new StructError('number_value is not a number');
      return v;
    case 'stringValue':
      if (typeof v !== 'string') throw new StructError('string_value is not a string');
      if (v.length > limits.maxString) {
        throw new StructError(`a string exceeds ${limits.maxString} characters`);
      }
      return v;
    case 'boolValue':
      if (typeof v !== 'boolean') throw new StructError('bool_value is not a boolean');
      return v;
    case 'structValue':
      return convertStruct(v, limits, budget, depth);
    case 'listValue': {
      if (depth > limits.maxDepth) throw new StructError(`nesting deeper than ${limits.maxDepth}`);
      const values = isObject(v) ? (v['values'] ?? []) : undefined;
      if (!Array.isArray(values)) throw new StructError('expected a ListValue');
      return values.map((x) => convertValue(x, limits, budget, depth + 1));
    }
  }
}

/** Which member of Value's `kind` oneof is set (by the loader's virtual `kind` field, or present). */
function kindOf(value: Record<string, unknown>): Kind | undefined {
  const named = value['kind'];
  for (const [camel, snake] of KINDS) {
    if (named === camel || named === snake) return camel;
  }
  for (const [camel, snake] of KINDS) {
    if (value[camel] !== undefined && value[camel] !== null) return camel;
    if (value[snake] !== undefined && value[snake] !== null) return camel;
  }
  return undefined;
}

function fieldOf(value: Record<string, unknown>, kind: Kind): unknown {
  const snake = KINDS.find(([camel]) => camel === kind)?.[1] ?? kind;
  return value[kind] ?? value[snake];
}

/** A `google.protobuf.Struct` of string and boolean fields, as the loader encodes it. */
export function stringStruct(fields: Readonly<Record<string, string | boolean>>): {
  fields: Record<string, { stringValue: string } | { boolValue: boolean }>;
} {
  const out: Record<string, { stringValue: string } | { boolValue: boolean }> = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = typeof value === 'string' ? { stringValue: value } : { boolValue: value };
  }
  return { fields: out };
}

/** A `google.protobuf.Value` as proto-loader decodes it with `oneofs: true`. */
interface ValueMessage {
  readonly kind?: string;
  readonly null_value?: unknown;
  readonly number_value?: number;
  readonly string_value?: string;
  readonly bool_value?: boolean;
  readonly struct_value?: StructMessage | null;
  readonly list_value?: { readonly values?: readonly ValueMessage[] } | null;
}

interface StructMessage {
  readonly fields?: Readonly<Record<string, unknown>>;
}

const MAX_DEPTH = 16;

function value(v: ValueMessage | null | undefined, depth: number): unknown {
  if (v === null || v === undefined || depth > MAX_DEPTH) return null;
  switch (v.kind) {
    case 'number_value':
      return v.number_value ?? 0;
    case 'string_value':
      return v.string_value ?? '';
    case 'bool_value':
      return v.bool_value ?? false;
    case 'struct_value':
      return struct(v.struct_value, depth + 1);
    case 'list_value':
      return (v.list_value?.values ?? []).map((x) => value(x, depth + 1));
    default:
      return null;
  }
}

function struct(s: StructMessage | null | undefined, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = value(v as ValueMessage, depth);
  return out;
}

/** `node.metadata` (a `google.protobuf.Struct` as decoded by proto-loader) as plain JSON. */
export function nodeMetadata(metadata: StructMessage | null): Readonly<Record<string, unknown>> {
  return struct(metadata, 0);
}

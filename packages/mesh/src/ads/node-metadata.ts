/**
 * A `google.protobuf.Value` as proto-loader decodes it with `oneofs: true`. protobufjs bundles
 * struct.proto with camelCase field names (`stringValue`) whatever `keepCase` says.
 */
interface ValueMessage {
  readonly kind?: string;
  readonly numberValue?: number;
  readonly stringValue?: string;
  readonly boolValue?: boolean;
  readonly structValue?: StructMessage | null;
  readonly listValue?: { readonly values?: readonly ValueMessage[] } | null;
}

interface StructMessage {
  readonly fields?: Readonly<Record<string, unknown>>;
}

const MAX_DEPTH = 16;

function value(v: ValueMessage | null | undefined, depth: number): unknown {
  if (v === null || v === undefined || depth > MAX_DEPTH) return null;
  switch (v.kind) {
    case 'numberValue':
      return v.numberValue ?? 0;
    case 'stringValue':
      return v.stringValue ?? '';
    case 'boolValue':
      return v.boolValue ?? false;
    case 'structValue':
      return struct(v.structValue, depth + 1);
    case 'listValue':
      return (v.listValue?.values ?? []).map((x) => value(x, depth + 1));
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

import { type JsonObject, type JsonValue, JsonNumber, isJsonArray } from '@parley/core';

/** `google.protobuf.Value` as proto-loader encodes it: exactly one member of the `kind` oneof. */
export type ProtoValue =
  | { readonly nullValue: 'NULL_VALUE' }
  | { readonly numberValue: number }
  | { readonly stringValue: string }
  | { readonly boolValue: boolean }
  | { readonly structValue: ProtoStruct }
  | { readonly listValue: { readonly values: readonly ProtoValue[] } };

/** `google.protobuf.Struct` as proto-loader encodes it. */
export interface ProtoStruct {
  readonly fields: Readonly<Record<string, ProtoValue>>;
}

function toProtoValue(value: JsonValue): ProtoValue {
  if (value === null) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (value instanceof JsonNumber) return { numberValue: value.toNumber() };
  if (isJsonArray(value)) return { listValue: { values: value.map(toProtoValue) } };
  return { structValue: jsonToStruct(value) };
}

/**
 * Converts parsed JSON claims to a `google.protobuf.Struct` (numbers become doubles, as
 * protobuf's JSON mapping does). The parser already bounded the depth.
 */
export function jsonToStruct(object: JsonObject): ProtoStruct {
  const fields: Record<string, ProtoValue> = Object.create(null) as Record<string, ProtoValue>;
  for (const [name, value] of object) fields[name] = toProtoValue(value);
  return { fields };
}

import protobuf from 'protobufjs';
import { type EncodedAny, decodeAny, xdsRoot } from './xds-protos.js';

const TYPE_URL_PREFIX = 'type.googleapis.com/';

/**
 * Converts a message in Parley's object form (as `encodeAny` takes it: `{seconds, nanos}`
 * durations, `{fields}` structs, `{value}` wrappers) into canonical proto3 JSON, the form Envoy
 * reads from a bootstrap file and prints in `/config_dump`. The object must already pass
 * `checkMessage`.
 */
export function toProto3Json(typeName: string, object: unknown): unknown {
  return convertMessage(xdsRoot().lookupType(typeName), object);
}

function convertMessage(type: protobuf.Type, value: unknown): unknown {
  const object = value as Record<string, unknown>;
  switch (type.fullName) {
    case '.google.protobuf.Any': {
      const typeUrl = String(object['@type']);
      const inner = xdsRoot().lookupType(typeUrl.slice(TYPE_URL_PREFIX.length));
      const { '@type': _, ...rest } = object;
      const converted = convertMessage(inner, rest) as Record<string, unknown>;
      return WELL_KNOWN.has(inner.fullName)
        ? { '@type': typeUrl, value: converted }
        : { '@type': typeUrl, ...converted };
    }
    case '.google.protobuf.Duration': {
      const seconds = Number(object['seconds'] ?? 0);
      const nanos = Number(object['nanos'] ?? 0);
      return `${(seconds + nanos / 1e9).toFixed(9).replace(/\.?0+$/, '')}s`;
    }
    case '.google.protobuf.Struct':
      return convertStruct(object);
    case '.google.protobuf.Value':
      return convertValue(object);
    case '.google.protobuf.ListValue':
      return ((object['values'] as unknown[] | undefined) ?? []).map(convertValue);
    default:
      if (type.fullName.startsWith('.google.protobuf.') && type.fullName.endsWith('Value')) {
        return object['value'];
      }
  }
  const out: Record<string, unknown> = {};
  for (const [key, fieldValue] of Object.entries(object)) {
    const field = type.fields[key];
    if (field === undefined || fieldValue === undefined) continue;
    if (field.map) {
      out[key] = Object.fromEntries(
        Object.entries(fieldValue as Record<string, unknown>).map(([k, v]) => [
          k,
          convertField(field, v),
        ]),
      );
    } else if (field.repeated) {
      out[key] = (fieldValue as unknown[]).map((v) => convertField(field, v));
    } else {
      out[key] = convertField(field, fieldValue);
    }
  }
  return out;
}

const WELL_KNOWN = new Set([
  '.google.protobuf.Duration',
  '.google.protobuf.Struct',
  '.google.protobuf.Value',
  '.google.protobuf.ListValue',
  '.google.protobuf.BoolValue',
  '.google.protobuf.StringValue',
  '.google.protobuf.UInt32Value',
  '.google.protobuf.UInt64Value',
  '.google.protobuf.Int32Value',
  '.google.protobuf.Int64Value',
  '.google.protobuf.DoubleValue',
  '.google.protobuf.FloatValue',
]);

function convertField(field: protobuf.Field, value: unknown): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return convertMessage(resolved, value);
  if (field.type === 'bytes' && value instanceof Uint8Array) {
    return Buffer.from(value).toString('base64');
  }
  if (field.type === 'int64' || field.type === 'uint64') return String(value);
  return value;
}

function convertStruct(object: Record<string, unknown>): Record<string, unknown> {
  const fields = (object['fields'] as Record<string, Record<string, unknown>> | undefined) ?? {};
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, convertValue(v)]));
}

// protobufjs bundles google/protobuf/struct.proto with camelCase field names (`stringValue`),
// whatever `keepCase` says; every other message keeps the names of its .proto file.
function convertValue(value: unknown): unknown {
  const v = value as Record<string, unknown>;
  if ('structValue' in v) return convertStruct(v['structValue'] as Record<string, unknown>);
  if ('listValue' in v) {
    const list = v['listValue'] as { values?: unknown[] };
    return (list.values ?? []).map(convertValue);
  }
  if ('nullValue' in v) return null;
  return v['stringValue'] ?? v['numberValue'] ?? v['boolValue'];
}

/** An encoded resource as proto3 JSON (with its `@type`), as Envoy's `/config_dump` shows it. */
export function anyToProto3Json(any: EncodedAny): Record<string, unknown> {
  const typeName = any.type_url.slice(TYPE_URL_PREFIX.length);
  const { '@type': _, ...fields } = decodeAny(any);
  return { '@type': any.type_url, ...(toProto3Json(typeName, fields) as object) };
}

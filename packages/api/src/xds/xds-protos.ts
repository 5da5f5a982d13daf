import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  type GrpcObject,
  type ServiceClientConstructor,
  loadPackageDefinition,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/** Envoy's v3 API protos as shipped by the pinned `@grpc/grpc-js-xds` package (DESIGN §3). */
export const XDS_PROTO_DIRS: readonly string[] = (() => {
  const root = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(root, d));
})();

/** The proto files Parley encodes or serves; their imports are loaded with them. */
const PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/secret/v3/sds.proto',
  'envoy/service/auth/v3/external_auth.proto',
  'envoy/service/accesslog/v3/als.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/trace/v3/opentelemetry.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls_spiffe_validator_config.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
  'envoy/extensions/filters/http/credential_injector/v3/credential_injector.proto',
  'envoy/extensions/http/injected_credentials/generic/v3/generic.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/access_loggers/grpc/v3/als.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
];

/** Type URLs of the resources served over xDS. */
export const XDS_TYPE_URL = {
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;

/** A type URL Parley serves over xDS. */
export type XdsTypeUrl = (typeof XDS_TYPE_URL)[keyof typeof XDS_TYPE_URL];

const TYPE_URL_PREFIX = 'type.googleapis.com/';

let root: protobuf.Root | undefined;

/** The protobufjs root of every Envoy message Parley uses (field names as in the .proto files). */
export function xdsRoot(): protobuf.Root {
  if (root === undefined) {
    const r = new protobuf.Root();
    r.resolvePath = (_origin, target) => {
      for (const dir of XDS_PROTO_DIRS) {
        const candidate = join(dir, target);
        try {
          require.resolve(candidate);
          return candidate;
        } catch {
          // not in this include dir
        }
      }
      return target; // google/protobuf/* are protobufjs's bundled common files
    };
    r.loadSync(PROTO_FILES, { keepCase: true });
    r.resolveAll();
    root = r;
  }
  return root;
}

/** A message as plain data, with field names as in the .proto files (`@type` inside an Any). */
export type ProtoObject = { readonly [field: string]: unknown };

/** An encoded `google.protobuf.Any`, as a DiscoveryResponse carries resources. */
export interface EncodedAny {
  readonly type_url: string;
  readonly value: Buffer;
}

/**
 * Every problem of `object` against message `typeName`: unknown fields (which protobufjs would
 * silently drop), wrong scalar types, unknown enum values, several members of one oneof, and
 * `Any` values whose `@type` names no loaded message.
 */
export function checkMessage(typeName: string, object: unknown): string[] {
  const problems: string[] = [];
  checkAgainst(xdsRoot().lookupType(typeName), object, typeName, problems);
  return problems;
}

function checkAgainst(type: protobuf.Type, value: unknown, path: string, problems: string[]): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${path}: expected a ${type.name} message`);
    return;
  }
  const object = value as Record<string, unknown>;
  if (type.fullName === '.google.protobuf.Any') {
    const typeUrl = object['@type'];
    const inner =
      typeof typeUrl === 'string' && typeUrl.startsWith(TYPE_URL_PREFIX)
        ? xdsRoot().lookup(typeUrl.slice(TYPE_URL_PREFIX.length))
        : null;
    if (!(inner instanceof protobuf.Type)) {
      problems.push(`${path}: Any has no loaded @type (${String(typeUrl)})`);
      return;
    }
    const { '@type': _, ...rest } = object;
    checkAgainst(inner, rest, `${path}<${inner.name}>`, problems);
    return;
  }
  for (const [key, fieldValue] of Object.entries(object)) {
    const field = type.fields[key];
    const fieldPath = `${path}.${key}`;
    if (field === undefined) {
      problems.push(`${fieldPath}: no such field in ${type.fullName.slice(1)}`);
      continue;
    }
    if (fieldValue === undefined) continue;
    if (field.map) {
      if (typeof fieldValue !== 'object' || fieldValue === null || Array.isArray(fieldValue)) {
        problems.push(`${fieldPath}: expected a map`);
        continue;
      }
      for (const [k, v] of Object.entries(fieldValue))
        checkField(field, v, `${fieldPath}.${k}`, problems);
    } else if (field.repeated) {
      if (!Array.isArray(fieldValue)) {
        problems.push(`${fieldPath}: expected a list`);
        continue;
      }
      fieldValue.forEach((v, i) => checkField(field, v, `${fieldPath}[${i}]`, problems));
    } else {
      checkField(field, fieldValue, fieldPath, problems);
    }
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.oneof.filter((name) => object[name] !== undefined);
    if (set.length > 1)
      problems.push(`${path}: oneof ${oneof.name} has several members set (${set.join(', ')})`);
  }
}

function checkField(field: protobuf.Field, value: unknown, path: string, problems: string[]): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    checkAgainst(resolved, value, path, problems);
    return;
  }
  if (resolved instanceof protobuf.Enum) {
    const ok =
      (typeof value === 'string' && value in resolved.values) ||
      (typeof value === 'number' && Object.values(resolved.values).includes(value));
    if (!ok) problems.push(`${path}: ${String(value)} is not a value of ${resolved.name}`);
    return;
  }
  if (!scalarOk(field.type, value)) problems.push(`${path}: expected ${field.type}`);
}

function scalarOk(type: string, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'bool':
      return typeof value === 'boolean';
    case 'bytes':
      return value instanceof Uint8Array || typeof value === 'string';
    case 'double':
    case 'float':
      return typeof value === 'number';
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return Number.isInteger(value) && Math.abs(value as number) <= 2 ** 31;
    case 'uint32':
    case 'fixed32':
      return Number.isInteger(value) && (value as number) >= 0 && (value as number) < 2 ** 32;
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return (
        Number.isSafeInteger(value) || (typeof value === 'string' && /^-?\d{1,19}$/.test(value))
      );
    case 'uint64':
    case 'fixed64':
      return (
        (Number.isSafeInteger(value) && (value as number) >= 0) ||
        (typeof value === 'string' && /^\d{1,20}$/.test(value))
      );
    default:
      return false;
  }
}

/**
 * Encodes a resource as an `Any` after checking it against its schema; a problem is a bug in
 * whoever built the resource (the mesh compiler, SDS), so it throws with every problem listed.
 */
export function encodeAny(typeUrl: string, object: ProtoObject): EncodedAny {
  if (!typeUrl.startsWith(TYPE_URL_PREFIX)) throw new TypeError(`not a type URL: ${typeUrl}`);
  const typeName = typeUrl.slice(TYPE_URL_PREFIX.length);
  const problems = checkMessage(typeName, object);
  if (problems.length > 0) {
    throw new TypeError(`${typeName} does not match its schema: ${problems.join('; ')}`);
  }
  const type = xdsRoot().lookupType(typeName);
  return { type_url: typeUrl, value: Buffer.from(type.encode(type.fromObject(object)).finish()) };
}

/** Decodes an `Any` back to plain data (`@type` included), e.g. for relays, status and tests. */
export function decodeAny(any: { type_url: string; value: Uint8Array }): ProtoObject {
  if (!any.type_url.startsWith(TYPE_URL_PREFIX)) {
    throw new TypeError(`not a type URL: ${any.type_url}`);
  }
  const type = xdsRoot().lookupType(any.type_url.slice(TYPE_URL_PREFIX.length));
  const object = type.toObject(type.decode(any.value), {
    longs: String,
    enums: String,
    bytes: String,
    json: true,
  });
  return { '@type': any.type_url, ...object };
}

/** The xDS services Parley serves: ADS in the server, SDS in the agent. */
export interface XdsServices {
  readonly AggregatedDiscoveryService: ServiceClientConstructor;
  readonly SecretDiscoveryService: ServiceClientConstructor;
  readonly Authorization: ServiceClientConstructor;
  readonly AccessLogService: ServiceClientConstructor;
}

let services: XdsServices | undefined;

/** Loads the xDS gRPC services once (field names as in the protos, int64 as strings, enums as names). */
export function loadXdsServices(): XdsServices {
  if (services === undefined) {
    const definition = loadSync(
      [
        'envoy/service/discovery/v3/ads.proto',
        'envoy/service/secret/v3/sds.proto',
        'envoy/service/auth/v3/external_auth.proto',
        'envoy/service/accesslog/v3/als.proto',
      ],
      {
        keepCase: true,
        longs: String,
        enums: String,
        defaults: true,
        oneofs: true,
        includeDirs: [...XDS_PROTO_DIRS],
      },
    );
    const grpc = loadPackageDefinition(definition);
    const service = (path: string): ServiceClientConstructor =>
      path
        .split('.')
        .reduce<unknown>((o, k) => (o as GrpcObject)[k], grpc) as ServiceClientConstructor;
    services = {
      AggregatedDiscoveryService: service('envoy.service.discovery.v3.AggregatedDiscoveryService'),
      SecretDiscoveryService: service('envoy.service.secret.v3.SecretDiscoveryService'),
      Authorization: service('envoy.service.auth.v3.Authorization'),
      AccessLogService: service('envoy.service.accesslog.v3.AccessLogService'),
    };
  }
  return services;
}

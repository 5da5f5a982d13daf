import type { XdsResource } from '../snapshot/mesh-snapshot.js';

// DiscoveryResponse / DeltaDiscoveryResponse are framed by hand from pre-encoded resources
// (envoy/service/discovery/v3/discovery.proto field numbers), so a resource shared by many
// proxies is encoded once per snapshot, not once per stream: a response is one memcpy per part.

const WIRE_LENGTH_DELIMITED = 2;

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** A length-delimited field (`bytes`, `string` or an embedded message). */
function field(fieldNumber: number, payload: Buffer): Buffer {
  return Buffer.concat([
    varint((fieldNumber << 3) | WIRE_LENGTH_DELIMITED),
    varint(payload.length),
    payload,
  ]);
}

function stringField(fieldNumber: number, value: string): Buffer {
  return value === '' ? Buffer.alloc(0) : field(fieldNumber, Buffer.from(value, 'utf8'));
}

/** `google.protobuf.Any { type_url = 1; value = 2; }`. */
function encodedAny(resource: XdsResource): Buffer {
  return Buffer.concat([
    stringField(1, resource.resource.type_url),
    field(2, resource.resource.value),
  ]);
}

// Keyed by the resource object: a snapshot shares one XdsResource between proxies.
const sotwParts = new WeakMap<XdsResource, Buffer>();
const deltaParts = new WeakMap<XdsResource, Buffer>();

/** `DiscoveryResponse.resources` (field 2) entry of one resource, cached per resource. */
function sotwPart(resource: XdsResource): Buffer {
  let part = sotwParts.get(resource);
  if (part === undefined) {
    part = field(2, encodedAny(resource));
    sotwParts.set(resource, part);
  }
  return part;
}

/** `DeltaDiscoveryResponse.resources` (field 2) entry: `Resource { version = 1; resource = 2; name = 3; }`. */
function deltaPart(resource: XdsResource): Buffer {
  let part = deltaParts.get(resource);
  if (part === undefined) {
    part = field(
      2,
      Buffer.concat([
        stringField(1, resource.version),
        field(2, encodedAny(resource)),
        stringField(3, resource.name),
      ]),
    );
    deltaParts.set(resource, part);
  }
  return part;
}

/** Encodes a state-of-the-world `DiscoveryResponse` (version_info 1, resources 2, type_url 4, nonce 5). */
export function encodeDiscoveryResponse(response: {
  readonly versionInfo: string;
  readonly resources: readonly XdsResource[];
  readonly typeUrl: string;
  readonly nonce: string;
}): Buffer {
  return Buffer.concat([
    stringField(1, response.versionInfo),
    ...response.resources.map(sotwPart),
    stringField(4, response.typeUrl),
    stringField(5, response.nonce),
  ]);
}

/**
 * Encodes a `DeltaDiscoveryResponse` (system_version_info 1, resources 2, type_url 4, nonce 5,
 * removed_resources 6).
 */
export function encodeDeltaDiscoveryResponse(response: {
  readonly systemVersionInfo: string;
  readonly resources: readonly XdsResource[];
  readonly removedResources: readonly string[];
  readonly typeUrl: string;
  readonly nonce: string;
}): Buffer {
  return Buffer.concat([
    stringField(1, response.systemVersionInfo),
    ...response.resources.map(deltaPart),
    stringField(4, response.typeUrl),
    stringField(5, response.nonce),
    ...response.removedResources.map((name) => field(6, Buffer.from(name, 'utf8'))),
  ]);
}

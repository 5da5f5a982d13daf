// Envoy's CheckRequest (envoy.service.auth.v3) → the evaluator's AuthzRequest, parsed at the edge.
import { parseSpiffeId } from '@parley/core';
import type { AuthzSnapshot, AuthzWorkload } from '../model/authz-snapshot.js';
import type { DecisionRecord } from '../model/decision-record.js';
import type { AuthzRequest } from '../model/policy.js';
import { StructError, structToJson } from './proto-struct.js';

/** The metadata namespace of Envoy's JWT filter, which the ext_authz filter forwards. */
export const JWT_AUTHN_NAMESPACE = 'envoy.filters.http.jwt_authn';
/** The key under which the JWT filter stores a verified token's payload (`payload_in_metadata`). */
export const JWT_PAYLOAD_KEY = 'payload';

/** Bounds on one CheckRequest; a request past any of them is denied. */
export const CHECK_REQUEST_LIMITS = {
  /** Header entries (Envoy's own default `max_headers_count` is 100). */
  maxHeaders: 1024,
  /** Header names and values together, in characters. */
  maxHeaderBytes: 512 * 1024,
  maxPathLength: 64 * 1024,
  maxHostLength: 1024,
  maxMethodLength: 64,
  maxPrincipalLength: 2048,
  maxAddressLength: 256,
  maxRequestIdLength: 256,
  claims: { maxDepth: 32, maxNodes: 10_000, maxString: 64 * 1024 },
} as const;

/** Longest path kept in the record of a refused request. */
const MAX_SEEN_PATH = 1024;

/** The request as an enforcement point saw it, as much of it as could be read (for the log). */
export type SeenRequest = Pick<DecisionRecord, 'source' | 'destination' | 'request'>;

/** A CheckRequest read into an evaluator request, or why it cannot be decided on (deny). */
export type CheckRequestResult =
  | { readonly ok: true; readonly requestId: string; readonly request: AuthzRequest }
  | {
      readonly ok: false;
      readonly requestId: string;
      readonly reason: string;
      readonly seen: SeenRequest;
    };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/** The value at `path` inside plain data, or undefined. */
function at(o: unknown, ...path: string[]): unknown {
  let v = o;
  for (const key of path) v = get(v, key);
  return v;
}

/** The own field `key` of plain data, or undefined (`at` for one key, without an array). */
function get(o: unknown, key: string): unknown {
  return isObject(o) && Object.hasOwn(o, key) ? o[key] : undefined;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Why reading failed; carries no header values (they may be credentials). */
class Refusal {
  constructor(readonly reason: string) {}
}

/**
 * Maps a CheckRequest as grpc-js decodes it (proto field names) to the evaluator's request. The
 * caller is `attributes.source.principal` — Envoy fills it from the verified peer certificate's
 * URI SAN, never from a header; the target is `attributes.destination.principal`, resolved to its
 * Service through the snapshot (a target the snapshot does not know is refused). Headers come from
 * `header_map` (Envoy's `encode_raw_headers: true`: repeated entries kept apart, values as raw
 * bytes, which must be UTF-8) or else the `headers` map; end-user claims from the JWT filter's
 * metadata. Everything is bounded; a request past a bound or of the wrong shape is refused.
 */
export function checkRequestToAuthz(
  check: unknown,
  snapshot: AuthzSnapshot,
  time: Date,
): CheckRequestResult {
  const L = CHECK_REQUEST_LIMITS;
  const attrs = get(check, 'attributes');
  const http = get(get(attrs, 'request'), 'http');
  const method = str(get(http, 'method'));
  const host = str(get(http, 'host'));
  const path = str(get(http, 'path'));
  const sourceAttrs = get(attrs, 'source');
  const destAttrs = get(attrs, 'destination');
  const sourcePrincipal = str(get(sourceAttrs, 'principal'));
  const sourceAddress = str(get(get(get(sourceAttrs, 'address'), 'socket_address'), 'address'));
  const destPrincipal = str(get(destAttrs, 'principal'));
  const headers = readHeaders(http);
  const workload = snapshot.workloads.get(destPrincipal);
  const requestId = requestIdOf(headers, http);
  const refuse = (reason: string): CheckRequestResult => ({
    ok: false,
    requestId,
    reason,
    seen: seenOf(check, workload),
  });

  if (!isObject(http)) return refuse('the CheckRequest has no attributes.request.http');
  if (headers instanceof Refusal) return refuse(headers.reason);
  if (method === '') return refuse('the request has no method');
  if (method.length > L.maxMethodLength) return refuse('the method is too long');
  if (host.length > L.maxHostLength) return refuse('the host is too long');
  if (path.length > L.maxPathLength) return refuse('the path is too long');
  if (sourcePrincipal.length > L.maxPrincipalLength)
    return refuse('the source principal is too long');
  if (sourcePrincipal !== '' && !isSpiffeIdShaped(sourcePrincipal)) {
    return refuse('the source principal is not a SPIFFE ID (the peer certificate is no X509-SVID)');
  }
  if (sourceAddress.length > L.maxAddressLength) return refuse('the source address is too long');
  if (destPrincipal === '') {
    return refuse('the destination principal is empty (the sidecar presented no SVID)');
  }
  if (workload === undefined) {
    return refuse(`the destination ${clip(destPrincipal, 256)} is not a workload of the mesh`);
  }
  let claims: Record<string, unknown> | undefined;
  const payload = get(get(get(attrs, 'metadata_context'), 'filter_metadata'), JWT_AUTHN_NAMESPACE);
  const payloadValue = get(get(payload, 'fields'), JWT_PAYLOAD_KEY);
  if (payloadValue !== undefined && payloadValue !== null) {
    try {
      const value = structToJson({ fields: { [JWT_PAYLOAD_KEY]: payloadValue } }, L.claims);
      const claimsValue = value[JWT_PAYLOAD_KEY];
      if (!isObject(claimsValue)) return refuse('the JWT payload in the metadata is not an object');
      claims = claimsValue;
    } catch (err) {
      if (err instanceof StructError) return refuse(`the JWT payload is refused: ${err.message}`);
      throw err;
    }
  }
  const source = sourcePrincipal === '' ? undefined : snapshot.workloads.get(sourcePrincipal);
  // Built field by field rather than with conditional spreads, which cost more than the rest of
  // the mapping together on the Check path.
  const sourceFields: Mutable<AuthzRequest['source']> = {};
  if (sourcePrincipal !== '') sourceFields.principal = sourcePrincipal;
  if (sourceAddress !== '') sourceFields.address = sourceAddress;
  if (source !== undefined) {
    sourceFields.service = source.service;
    sourceFields.attributes = source.attributes;
  }
  const requestFields: Mutable<AuthzRequest['request']> = {
    method,
    host,
    path,
    headers,
  };
  if (claims !== undefined) requestFields.auth = { claims };
  return {
    ok: true,
    requestId,
    request: {
      source: sourceFields,
      destination: {
        service: workload.service,
        principal: destPrincipal,
        port: destinationPort(
          get(get(get(destAttrs, 'address'), 'socket_address'), 'port_value'),
          workload.ports,
        ),
        attributes: workload.attributes,
      },
      request: requestFields,
      time,
    },
  };
}

/** The request id and what a CheckRequest looked like, read without a snapshot (for the log). */
export function seenOfCheckRequest(check: unknown): { requestId: string; seen: SeenRequest } {
  const http = at(check, 'attributes', 'request', 'http');
  return { requestId: requestIdOf(readHeaders(http), http), seen: seenOf(check, undefined) };
}

function seenOf(check: unknown, workload: AuthzWorkload | undefined): SeenRequest {
  const L = CHECK_REQUEST_LIMITS;
  const attrs = at(check, 'attributes');
  const http = at(attrs, 'request', 'http');
  const sourcePrincipal = str(at(attrs, 'source', 'principal'));
  const sourceAddress = str(at(attrs, 'source', 'address', 'socket_address', 'address'));
  const socketPort = at(attrs, 'destination', 'address', 'socket_address', 'port_value');
  return {
    source: {
      ...(sourcePrincipal !== '' && { principal: clip(sourcePrincipal, L.maxPrincipalLength) }),
      ...(sourceAddress !== '' && { address: clip(sourceAddress, L.maxAddressLength) }),
    },
    destination: {
      ...(workload !== undefined && { service: workload.service }),
      principal: clip(str(at(attrs, 'destination', 'principal')), L.maxPrincipalLength),
      port: destinationPort(socketPort, workload?.ports),
    },
    request: {
      method: clip(str(at(http, 'method')), L.maxMethodLength),
      host: clip(str(at(http, 'host')), L.maxHostLength),
      path: clip(str(at(http, 'path')), MAX_SEEN_PATH),
      headers: {},
    },
  };
}

/**
 * The destination port: the socket's when it is one of the Service's ports; otherwise the
 * connection reached the sidecar's inbound listener, which stands for the Service's first port
 * (as `parley authz check` reads a host without a port).
 */
function destinationPort(socketPort: unknown, ports: readonly number[] | undefined): number {
  const p = typeof socketPort === 'number' && Number.isInteger(socketPort) ? socketPort : 0;
  if (ports === undefined || ports.length === 0 || ports.includes(p)) return p;
  return ports[0] ?? p;
}

/**
 * The request headers by lower-case name, in the order first seen: one value as a string, a
 * repeated header's values as an array in order.
 */
function readHeaders(http: unknown): Record<string, string | string[]> | Refusal {
  const L = CHECK_REQUEST_LIMITS;
  const out: Record<string, string | string[]> = {};
  let count = 0;
  let bytes = 0;
  const add = (key: string, value: string): Refusal | undefined => {
    count += 1;
    bytes += key.length + value.length;
    if (count > L.maxHeaders) return new Refusal(`more than ${L.maxHeaders} request headers`);
    if (bytes > L.maxHeaderBytes) {
      return new Refusal(`request headers exceed ${L.maxHeaderBytes} characters`);
    }
    if (key === '') return new Refusal('a request header has an empty name');
    const name = lowerCase(key);
    if (!Object.hasOwn(out, name)) {
      // An own data property even for a header named `__proto__`.
      if (name === '__proto__') {
        Object.defineProperty(out, name, {
          value,
          writable: true,
          enumerable: true,
          configurable: true,
        });
      } else {
        out[name] = value;
      }
      return undefined;
    }
    const seen = out[name] as string | string[];
    if (typeof seen === 'string') out[name] = [seen, value];
    else seen.push(value);
    return undefined;
  };
  const entries = at(http, 'header_map', 'headers');
  if (Array.isArray(entries) && entries.length > 0) {
    if (entries.length > L.maxHeaders)
      return new Refusal(`more than ${L.maxHeaders} request headers`);
    for (const entry of entries) {
      const key = str(at(entry, 'key'));
      const raw = at(entry, 'raw_value');
      let value = str(at(entry, 'value'));
      if (raw instanceof Uint8Array && raw.length > 0) {
        if (raw.length > L.maxHeaderBytes) {
          return new Refusal(`request headers exceed ${L.maxHeaderBytes} characters`);
        }
        try {
          value = utf8.decode(raw);
        } catch {
          return new Refusal(`request header ${clip(key, 128)} is not valid UTF-8`);
        }
      }
      const refused = add(key, value);
      if (refused !== undefined) return refused;
    }
    return out;
  }
  const map = at(http, 'headers');
  if (isObject(map)) {
    // Own enumerable keys in Object.entries' order, without its arrays.
    for (const key in map) {
      if (!Object.hasOwn(map, key)) continue;
      const refused = add(key, str(map[key]));
      if (refused !== undefined) return refused;
    }
  }
  return out;
}

/** The request id a denied response carries: `x-request-id` (else Envoy's id) when it is safe to echo. */
function requestIdOf(headers: Record<string, string | string[]> | Refusal, http: unknown): string {
  const value =
    headers instanceof Refusal || !Object.hasOwn(headers, 'x-request-id')
      ? undefined
      : headers['x-request-id'];
  const header = typeof value === 'string' ? value : value?.[0];
  if (header !== undefined && isEchoable(header)) return header;
  const id = str(get(http, 'id'));
  return isEchoable(id) ? id : '-';
}

function isEchoable(requestId: string): boolean {
  return (
    requestId.length > 0 &&
    requestId.length <= CHECK_REQUEST_LIMITS.maxRequestIdLength &&
    /^[\x21-\x7e]+$/.test(requestId)
  );
}

/** Principals already checked (a mesh has few callers); bounded, emptied when full. */
const spiffeIdShaped = new Map<string, boolean>();
/** Characters of the principals `spiffeIdShaped` holds at most. */
const MAX_SHAPED_CHARS = 1024 * 1024;
let shapedChars = 0;

function isSpiffeIdShaped(s: string): boolean {
  const known = spiffeIdShaped.get(s);
  if (known !== undefined) return known;
  let shaped: boolean;
  try {
    parseSpiffeId(s);
    shaped = true;
  } catch {
    shaped = false;
  }
  if (shapedChars + s.length > MAX_SHAPED_CHARS) {
    spiffeIdShaped.clear();
    shapedChars = 0;
  }
  spiffeIdShaped.set(s, shaped);
  shapedChars += s.length;
  return shaped;
}

/** `s.toLowerCase()`, without a copy when `s` is ASCII with no upper-case letter. */
function lowerCase(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a) || c >= 0x80) return s.toLowerCase();
  }
  return s;
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max);
}

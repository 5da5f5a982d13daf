import { type ConfigProblem, ObjectReader, parseSpiffeId } from '@parley/core';
import type {
  Endpoint,
  Metadata,
  PortProtocol,
  Service,
  ServiceAttributes,
  SidecarSettings,
  SourceRef,
} from './mesh-config.js';
import {
  SERVICE_NAME,
  isLoopback,
  parseSocketAddress,
  readItems,
  readStrings,
  requiredInteger,
} from './read-common.js';

/** The default port of a sidecar's outbound listener on 127.0.0.1. */
export const DEFAULT_OUTBOUND_PORT = 15001;

const PROTOCOLS: readonly PortProtocol[] = ['http', 'http2', 'grpc', 'tcp'];
const INSTANCE_NAME = /^[a-z0-9]([-.a-z0-9]{0,61}[a-z0-9])?$/;
const LOCALITY_PART = /^[A-Za-z0-9]([-._A-Za-z0-9]{0,61}[A-Za-z0-9])?$/;
const ATTRIBUTE = /^[A-Za-z0-9]([-._A-Za-z0-9]{0,61}[A-Za-z0-9])?$/;

/** Reads one endpoint (an instance) of a service; problems go to the reader. */
export function readEndpoint(r: ObjectReader): Endpoint | undefined {
  const name = r.string('name');
  if (name !== undefined && !INSTANCE_NAME.test(name)) {
    r.problem('name', 'must be lower-case letters, digits, "-" and "." (at most 63)');
  }
  const inbound = r.parsed('inbound', parseSocketAddress);
  const app = r.parsed('app', parseSocketAddress);
  if (app !== undefined && !isLoopback(app.host)) {
    r.problem('app', 'must be a loopback address (the sidecar forwards to the app on localhost)');
  }
  const outbound = r.has('outbound') ? r.parsed('outbound', parseSocketAddress) : undefined;
  if (outbound !== undefined && !isLoopback(outbound.host)) {
    r.problem('outbound', 'must be a loopback address (only the local app may call out)');
  }
  const weight = r.integer('weight', 1, 1, 1000);
  const loc = r.object('locality');
  let locality: Endpoint['locality'];
  if (loc !== undefined) {
    const region = loc.string('region');
    const zone = loc.string('zone', '');
    for (const [key, v] of [
      ['region', region],
      ['zone', zone],
    ] as const) {
      if (v !== undefined && v !== '' && !LOCALITY_PART.test(v)) {
        loc.problem(key, 'must be letters, digits, "-", "_" and "." (at most 63)');
      }
    }
    locality = { region, zone };
  }
  if (name === undefined || inbound === undefined || app === undefined) return undefined;
  return {
    name,
    inbound,
    app,
    ...(outbound !== undefined && { outbound }),
    ...(locality !== undefined && { locality }),
    weight,
  };
}

/**
 * Parses an endpoint registered at run time (by `parley up` or from Kubernetes) with the same
 * rules as a static one in a Service document.
 */
export function parseEndpoint(
  value: unknown,
): { ok: true; endpoint: Endpoint } | { ok: false; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const r = new ObjectReader(value, '', problems);
  const endpoint = readEndpoint(r);
  r.reportUnknown();
  return endpoint !== undefined && problems.length === 0
    ? { ok: true, endpoint }
    : { ok: false, problems };
}

/** Reads the `spec` of a Service. */
export function readService(
  spec: ObjectReader,
  metadata: Metadata,
  source: SourceRef,
  problems: ConfigProblem[],
): Service | undefined {
  const spiffeId = spec.parsed('spiffeId', parseSpiffeId);
  if (!spec.has('ports')) spec.problem('ports', 'is required');
  const ports = readItems(spec, 'ports', problems, (p) => {
    const name = p.string('name');
    if (name !== undefined && !SERVICE_NAME.test(name)) {
      p.problem('name', 'must be a DNS label (lower-case letters, digits and "-", at most 63)');
    }
    const port = requiredInteger(p, 'port', 1, 65535);
    const protocol = p.oneOf('protocol', PROTOCOLS, 'http');
    return name === undefined || port === undefined ? undefined : { name, port, protocol };
  });
  if (spec.has('ports') && Array.isArray(spec.raw('ports')) && ports.length === 0) {
    if ((spec.raw('ports') as unknown[]).length === 0) spec.problem('ports', 'must not be empty');
  }
  const protocols = new Set(ports.map((p) => p.protocol));
  if (protocols.size > 1) {
    spec.problem('ports', 'all ports of a service must have the same protocol');
  }
  ports.forEach((p, i) => {
    const j = ports.findIndex((q) => q.name === p.name || q.port === p.port);
    if (j < i) spec.problem(`ports[${i}]`, `repeats the name or port of ports[${j}]`);
  });

  const endpoints = readItems(spec, 'endpoints', problems, (e) => readEndpoint(e));
  endpoints.forEach((e, i) => {
    const j = endpoints.findIndex((q) => q.name === e.name);
    if (j < i) spec.problem(`endpoints[${i}].name`, `repeats the name of endpoints[${j}]`);
  });

  const attributes: { -readonly [K in keyof ServiceAttributes]: string } = {};
  const attrs = spec.object('attributes');
  if (attrs !== undefined) {
    for (const key of ['environment', 'team', 'sensitivity'] as const) {
      const v = attrs.optionalString(key);
      if (v === undefined) continue;
      if (!ATTRIBUTE.test(v)) attrs.problem(key, 'must be a word of at most 63 characters');
      else attributes[key] = v;
    }
  }

  const side = spec.object('sidecar');
  let sidecar: SidecarSettings = { outboundPort: DEFAULT_OUTBOUND_PORT };
  if (side !== undefined) {
    const outboundPort = side.integer('outboundPort', DEFAULT_OUTBOUND_PORT, 1, 65535);
    const outbound = side.has('outbound')
      ? readStrings(side, 'outbound', (v) =>
          SERVICE_NAME.test(v) ? undefined : 'must be a service name',
        )
      : undefined;
    const defaultDestination = side.optionalString('defaultDestination');
    if (defaultDestination !== undefined && !SERVICE_NAME.test(defaultDestination)) {
      side.problem('defaultDestination', 'must be a service name');
    }
    sidecar = {
      outboundPort,
      ...(outbound !== undefined && { outbound }),
      ...(defaultDestination !== undefined && { defaultDestination }),
    };
  }
  if (spiffeId === undefined) return undefined;
  return {
    kind: 'Service',
    source,
    metadata,
    spiffeId,
    ports,
    endpoints,
    attributes,
    sidecar,
  };
}

import { invalidArgument, ParleyError, parseSpiffeId } from '@parley/core';
import { type AuthzRequest, type Decision, buildPolicySet, evaluateRequest } from '@parley/authz';
import type { MeshConfig, Service } from '@parley/mesh';

/** A hypothetical request for `parley authz check` and `POST /v1/authz/check`. */
export interface AuthzCheckInput {
  readonly source: string;
  readonly host: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly jwtClaims?: Readonly<Record<string, unknown>>;
  readonly sourceIp?: string;
}

/** A decision with the destination it was made for. */
export interface AuthzCheckResult {
  readonly destination: { readonly service: string; readonly port: number };
  readonly decision: Decision;
}

const MAX_TEXT = 8192;
const MAX_HEADERS = 100;

const text = (value: unknown, field: string): string => {
  if (typeof value !== 'string' || value === '' || value.length > MAX_TEXT) {
    throw invalidArgument(`${field} must be a non-empty string of at most ${MAX_TEXT} characters`);
  }
  return value;
};

/** Parses the JSON body of `POST /v1/authz/check` (the fields of AuthzCheckInput, nothing else). */
export function parseAuthzCheckInput(body: unknown): AuthzCheckInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidArgument('the body must be a JSON object');
  }
  const b = body as Record<string, unknown>;
  const known = ['source', 'host', 'method', 'path', 'headers', 'jwtClaims', 'sourceIp'];
  const unknown = Object.keys(b).find((k) => !known.includes(k));
  if (unknown !== undefined) throw invalidArgument(`unknown field "${unknown.slice(0, 40)}"`);
  const headers: Record<string, string | string[]> = {};
  if (b['headers'] !== undefined) {
    const h = b['headers'];
    if (h === null || typeof h !== 'object' || Array.isArray(h)) {
      throw invalidArgument('headers must be an object of strings or lists of strings');
    }
    const entries = Object.entries(h as Record<string, unknown>);
    if (entries.length > MAX_HEADERS) throw invalidArgument(`at most ${MAX_HEADERS} headers`);
    for (const [name, value] of entries) {
      headers[name.toLowerCase()] = Array.isArray(value)
        ? value.map((v) => text(v, `headers.${name.slice(0, 40)}`))
        : text(value, `headers.${name.slice(0, 40)}`);
    }
  }
  const claims = b['jwtClaims'];
  if (
    claims !== undefined &&
    (claims === null || typeof claims !== 'object' || Array.isArray(claims))
  ) {
    throw invalidArgument('jwtClaims must be a JSON object');
  }
  return {
    source: text(b['source'], 'source'),
    host: text(b['host'], 'host'),
    method: text(b['method'], 'method'),
    path: text(b['path'], 'path'),
    headers,
    ...(claims !== undefined && { jwtClaims: claims as Record<string, unknown> }),
    ...(b['sourceIp'] !== undefined && { sourceIp: text(b['sourceIp'], 'sourceIp') }),
  };
}

/** The Service a host names (mesh hosts are Service names), and the port it gives. */
function destinationOf(config: MeshConfig, host: string): { service: Service; port?: number } {
  const m = /^(.*?)(?::(\d{1,5}))?$/.exec(host.trim().toLowerCase());
  const name = (m?.[1] ?? '').replace(/\.$/, '');
  const port = m?.[2] === undefined ? undefined : Number(m[2]);
  const service = config.services.find((s) => s.metadata.name === name);
  if (service === undefined) {
    throw new ParleyError('not-found', `no Service is named by host "${name.slice(0, 80)}"`);
  }
  return { service, ...(port !== undefined && { port }) };
}

/**
 * Evaluates a hypothetical request against a mesh config's authorization policies at `now`: the
 * caller's Service is resolved from its SPIFFE ID, the target's from the host.
 */
export function checkAuthorization(
  config: MeshConfig,
  input: AuthzCheckInput,
  now: number,
): AuthzCheckResult {
  let principal: string;
  try {
    principal = parseSpiffeId(input.source).toString();
  } catch (err) {
    throw invalidArgument(`source: ${(err as Error).message}`);
  }
  const caller = config.services.find((s) => s.spiffeId.toString() === principal);
  const target = destinationOf(config, input.host);
  const port = target.port ?? target.service.ports[0]?.port ?? 80;
  const request: AuthzRequest = {
    source: {
      principal,
      ...(input.sourceIp !== undefined && { address: input.sourceIp }),
      ...(caller !== undefined && {
        service: caller.metadata.name,
        attributes: caller.attributes,
      }),
    },
    destination: {
      service: target.service.metadata.name,
      principal: target.service.spiffeId.toString(),
      port,
      attributes: target.service.attributes,
    },
    request: {
      method: input.method,
      host: input.host,
      path: input.path,
      headers: input.headers,
      ...(input.jwtClaims !== undefined && { auth: { claims: input.jwtClaims } }),
    },
    time: new Date(now),
  };
  const decision = evaluateRequest(buildPolicySet(config.authorizationPolicies), request);
  return { destination: { service: target.service.metadata.name, port }, decision };
}

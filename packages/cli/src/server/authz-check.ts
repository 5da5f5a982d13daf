import type { AuthzJwk, AuthzJwtIssuer } from '@parley/api';
import { type Clock, invalidArgument, ParleyError, parseSpiffeId } from '@parley/core';
import {
  type AuthzRequest,
  type Decision,
  type EndUserJwtIssuer,
  type EndUserJwtResult,
  MAX_JWKS_BYTES,
  buildPolicySet,
  decodeJwt,
  evaluateRequest,
  parseJwks,
  verifyEndUserJwt,
} from '@parley/authz';
import type { MeshConfig, Service } from '@parley/mesh';

/** A hypothetical request for `parley authz check` and `POST /v1/authz/check`. */
export interface AuthzCheckInput {
  readonly source: string;
  readonly host: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly jwtClaims?: Readonly<Record<string, unknown>>;
  /** An end-user token, verified as Envoy's JWT filter would (its claims then decide). */
  readonly jwt?: string;
  readonly sourceIp?: string;
}

/** A decision with the destination it was made for. */
export interface AuthzCheckResult {
  readonly destination: { readonly service: string; readonly port: number };
  readonly decision: Decision;
}

const MAX_TEXT = 8192;
/** The longest end-user token a check takes. */
const MAX_JWT = 16 * 1024;
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
  const known = ['source', 'host', 'method', 'path', 'headers', 'jwtClaims', 'jwt', 'sourceIp'];
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
  const jwt = b['jwt'];
  if (jwt !== undefined) {
    if (typeof jwt !== 'string' || jwt === '' || jwt.length > MAX_JWT) {
      throw invalidArgument(`jwt must be a token of at most ${MAX_JWT} characters`);
    }
    if (claims !== undefined) throw invalidArgument('jwt and jwtClaims exclude each other');
  }
  return {
    source: text(b['source'], 'source'),
    host: text(b['host'], 'host'),
    method: text(b['method'], 'method'),
    path: text(b['path'], 'path'),
    headers,
    ...(claims !== undefined && { jwtClaims: claims as Record<string, unknown> }),
    ...(typeof jwt === 'string' && { jwt }),
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

/** What Envoy's JWT filter answers to a token no issuer verifies, before any policy. */
export interface TokenRefusal {
  readonly outcome: 'deny';
  /** 401, or 403 for a verified token of the wrong audience (as Envoy answers). */
  readonly status: 401 | 403;
  readonly why: string;
}

/** What a token came to: verified (its claims decide), or not verified and why. */
export type TokenSummary =
  | { readonly verified: true; readonly issuer: string; readonly subject?: string }
  | { readonly verified: false; readonly note: string };

/** The output of `authz check`: a decision, or the JWT filter's refusal of the token. */
export type CheckOutput =
  | (AuthzCheckResult & { readonly token?: TokenSummary })
  | {
      readonly destination: AuthzCheckResult['destination'];
      readonly decision: TokenRefusal;
      readonly token?: TokenSummary;
    };

/** How long a check waits for an issuer's remote JWKS. */
const JWKS_FETCH_TIMEOUT_MS = 5000;

/**
 * Fetches the JWKS of a `jwksUri` issuer, bounded in time and size (no redirects, as Envoy).
 * Failing to fetch it is a failed check, not a 401: Envoy may well reach it.
 */
export async function fetchJwks(uri: string): Promise<readonly AuthzJwk[]> {
  const where = `the JWKS at ${uri.slice(0, 256)}`;
  let text = '';
  try {
    const res = await fetch(uri, {
      redirect: 'error',
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(JWKS_FETCH_TIMEOUT_MS),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new ParleyError('unavailable', `${where} answered HTTP ${res.status}`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader: ReadableStreamDefaultReader<Uint8Array> | undefined = res.body?.getReader();
    for (let r = await reader?.read(); r !== undefined && !r.done; r = await reader?.read()) {
      size += r.value.length;
      if (size > MAX_JWKS_BYTES) {
        await reader?.cancel();
        throw new ParleyError(
          'resource-exhausted',
          `${where} is larger than ${MAX_JWKS_BYTES} bytes`,
        );
      }
      chunks.push(r.value);
    }
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch (err) {
    if (err instanceof ParleyError) throw err;
    const why = err instanceof Error && err.name === 'TimeoutError' ? 'timed out' : 'failed';
    const cause = (err as { cause?: { code?: unknown } }).cause?.code;
    throw new ParleyError(
      'unavailable',
      `fetching ${where} ${why}${typeof cause === 'string' ? ` (${cause})` : ''}`,
    );
  }
  const jwks = parseJwks(text);
  if (!jwks.ok) throw new ParleyError('unavailable', `${where}: ${jwks.reason}`);
  return jwks.keys;
}

/**
 * Verifies `token` against the mesh's issuers as Envoy's JWT filter would: inline keys
 * from the config; the remote JWKS of the issuer the token names, fetched. Undefined when the
 * mesh has no issuer (Envoy then runs no JWT filter and ignores the token).
 */
async function verifyToken(
  token: string,
  issuers: readonly AuthzJwtIssuer[],
  deps: {
    readonly clock: Clock;
    readonly fetchJwks: (uri: string) => Promise<readonly AuthzJwk[]>;
  },
): Promise<EndUserJwtResult | undefined> {
  if (issuers.length === 0) return undefined;
  const decoded = decodeJwt(token);
  const iss = decoded.ok ? decoded.jwt.claims.get('iss') : undefined;
  const withKeys: EndUserJwtIssuer[] = [];
  for (const issuer of issuers) {
    const keys =
      issuer.jwks.kind === 'inline'
        ? issuer.jwks.keys
        : issuer.issuer === iss
          ? await deps.fetchJwks(issuer.jwks.uri)
          : [];
    withKeys.push({ issuer: issuer.issuer, audiences: issuer.audiences, keys });
  }
  return verifyEndUserJwt(token, withKeys, deps.clock);
}

/**
 * `checkAuthorization`, with the end-user token of `input.jwt` verified first against the mesh's
 * issuers: a refused token is the JWT filter's 401 (403 for a wrong audience) before any policy;
 * a verified one's claims decide; with no issuer configured the token is ignored, as Envoy would.
 */
export async function checkWithToken(
  config: MeshConfig,
  input: AuthzCheckInput,
  deps: {
    readonly clock: Clock;
    readonly fetchJwks: (uri: string) => Promise<readonly AuthzJwk[]>;
  },
): Promise<CheckOutput> {
  const { jwt: token, ...request } = input;
  const now = deps.clock.now();
  const verdict =
    token === undefined
      ? undefined
      : await verifyToken(
          token,
          config.authorizationPolicies.flatMap((p) => p.jwtIssuers),
          deps,
        );
  if (verdict === undefined) {
    return {
      ...checkAuthorization(config, request, now),
      ...(token !== undefined && {
        token: {
          verified: false,
          note: 'the mesh configures no JWT issuer, so Envoy runs no JWT filter and ignores it',
        },
      }),
    };
  }
  if (!verdict.ok) {
    // Resolved all the same: a host no Service has is a failure whatever the token.
    const { destination } = checkAuthorization(config, request, now);
    return {
      destination,
      decision: { outcome: 'deny', status: verdict.status, why: verdict.reason },
    };
  }
  return {
    ...checkAuthorization(config, { ...request, jwtClaims: verdict.jwt.claims }, now),
    token: {
      verified: true,
      issuer: verdict.jwt.issuer,
      ...(verdict.jwt.subject !== undefined && { subject: verdict.jwt.subject }),
    },
  };
}

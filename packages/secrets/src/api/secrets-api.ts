import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Clock, invalidArgument, ParleyError } from '@parley/core';
import { type SecretPath, parseSecretFolder, parseSecretPath } from '@parley/api';
import type { SecretCaller, SecretEngine, SecretMetadata, VersionMetadata } from '../kv/index.js';
import {
  formatGoDuration,
  sendError,
  sendErrors,
  sendNoContent,
  sendVault,
  vaultTime,
} from './vault-response.js';
import {
  type JsonObjectBody,
  optionalBoolean,
  optionalDurationMs,
  optionalInteger,
  optionalStringMap,
  requireObject,
  requireVersions,
  strictKeys,
} from './request-fields.js';

/** How a request reached the API: over the secrets listener (with its peer chain) or the admin socket. */
export type SecretsTransport =
  | {
      readonly kind: 'listener';
      /** The client's certificate chain, leaf first ([] without one); read only when needed. */
      readonly peerChain: () => readonly Buffer[];
    }
  | { readonly kind: 'admin-socket' };

/** A verified identity, or why the credential was refused. */
export type Authentication =
  | { readonly ok: true; readonly spiffeId: string; readonly expiresAt: number }
  | { readonly ok: false; readonly reason: string };

/** A token issued by SPIFFE login, as looked up. */
export interface IssuedToken {
  readonly spiffeId: string;
  readonly accessor: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** What the API needs to authenticate callers (STYLE rule 5: the consumer owns the interface). */
export interface SecretsAuth {
  /** Verifies a presented X.509 chain (leaf first) as an X509-SVID of the trust domain. */
  x509(chain: readonly Buffer[]): Authentication;
  /** Verifies a JWT-SVID whose audience must name the secrets service. */
  jwt(token: string): Authentication;
  /** Issues a short-lived token for a verified identity (only its hash is stored; audited). */
  login(
    spiffeId: string,
    method: 'x509' | 'jwt',
    requestId: string,
  ): Promise<{ readonly token: string; readonly accessor: string; readonly ttlSeconds: number }>;
  /** Records a refused login in the audit chain. */
  loginRefused(method: 'x509' | 'jwt', reason: string, requestId: string): Promise<void>;
  lookup(token: string): Promise<IssuedToken | undefined>;
  revoke(token: string): Promise<void>;
  /** Whether a SPIFFE ID's registration entry is flagged `admin`. */
  isAdmin(spiffeId: string): Promise<boolean>;
}

/** The admin operations behind `/v1/sys/parley/…` (admin callers only). */
export interface SecretsAdmin {
  listPolicies(): Promise<string[]>;
  getPolicy(name: string): Promise<unknown>;
  putPolicy(caller: SecretCaller, name: string, spec: unknown, requestId: string): Promise<void>;
  deletePolicy(caller: SecretCaller, name: string, requestId: string): Promise<boolean>;
  rotate(
    caller: SecretCaller,
    path: SecretPath,
    request: JsonObjectBody,
    requestId: string,
  ): Promise<unknown>;
  rotationStatus(path: SecretPath): Promise<unknown>;
  revokePrevious(caller: SecretCaller, path: SecretPath, requestId: string): Promise<boolean>;
  rewrap(caller: SecretCaller, requestId: string): Promise<{ rewrapped: number }>;
}

/** Everything the HTTP API is built from. */
export interface SecretsApiDeps {
  readonly engine: SecretEngine;
  readonly auth: SecretsAuth;
  readonly admin: SecretsAdmin;
  /** Reads a request's JSON body (bounded); undefined for an empty body. */
  readonly readBody: (req: IncomingMessage) => Promise<unknown>;
  readonly clock: Clock;
  readonly log: (message: string, fields: Record<string, unknown>) => void;
  /** The mount of the KV v2 engine (Parley serves one: `secret`). */
  readonly mount?: string;
}

type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  transport: SecretsTransport,
) => Promise<void>;

const TOKEN_HEADER = 'x-vault-token';
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const METADATA_KEYS = ['max_versions', 'cas_required', 'delete_version_after', 'custom_metadata'];

function versionJson(v: VersionMetadata, custom: Readonly<Record<string, string>>): object {
  return {
    created_time: vaultTime(v.createdTime),
    custom_metadata: Object.keys(custom).length === 0 ? null : custom,
    deletion_time: vaultTime(v.deletionTime),
    destroyed: v.destroyed,
    version: v.version,
  };
}

function metadataJson(m: SecretMetadata): object {
  const versions: Record<string, object> = {};
  for (const v of m.versions) {
    versions[String(v.version)] = {
      created_time: vaultTime(v.createdTime),
      deletion_time: vaultTime(v.deletionTime),
      destroyed: v.destroyed,
    };
  }
  return {
    cas_required: m.casRequired,
    created_time: vaultTime(m.createdTime),
    current_version: m.currentVersion,
    custom_metadata: Object.keys(m.customMetadata).length === 0 ? null : m.customMetadata,
    delete_version_after: formatGoDuration(m.deleteVersionAfterMs),
    max_versions: m.maxVersions,
    oldest_version: m.oldestVersion,
    updated_time: vaultTime(m.updatedTime),
    versions,
  };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  if (Array.isArray(v)) throw invalidArgument(`header ${name} is given more than once`);
  return v;
}

/** The token of a request: `X-Vault-Token`, else `Authorization: Bearer`; never both. */
function presentedToken(req: IncomingMessage): string | undefined {
  const vault = headerValue(req, TOKEN_HEADER);
  const authorization = headerValue(req, 'authorization');
  let bearer: string | undefined;
  if (authorization !== undefined) {
    const m = /^Bearer ([!-~]+)$/i.exec(authorization);
    if (m === null) throw new ParleyError('permission-denied', 'unsupported Authorization header');
    bearer = m[1];
  }
  if (vault !== undefined && bearer !== undefined && vault !== bearer) {
    throw invalidArgument('X-Vault-Token and Authorization name different tokens');
  }
  return vault ?? bearer;
}

function methodOf(req: IncomingMessage): string {
  return req.method ?? '';
}

/** Splits a request target into its path and query; a fragment or a percent sign is refused. */
function splitTarget(url: string): { path: string; query: URLSearchParams } {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  // Secret paths never need percent-encoding: an encoded byte is refused, never decoded.
  if (path.includes('%'))
    throw invalidArgument('percent-encoded characters are not allowed in paths');
  return { path, query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)) };
}

function checkQuery(query: URLSearchParams, allowed: readonly string[]): void {
  const seen = new Set<string>();
  for (const key of query.keys()) {
    if (!allowed.includes(key))
      throw invalidArgument(`unknown query parameter "${key.slice(0, 64)}"`);
    if (seen.has(key)) throw invalidArgument(`query parameter "${key}" is given more than once`);
    seen.add(key);
  }
}

function isList(query: URLSearchParams): boolean {
  const list = query.get('list');
  if (list === null) return false;
  if (list !== 'true' && list !== 'false') throw invalidArgument('list must be true or false');
  return list === 'true';
}

function methodNotAllowed(): never {
  throw new ParleyError('unimplemented', `unsupported operation`);
}

/**
 * The Vault KV v2-compatible HTTP API of the secrets module (docs/secrets.md): SPIFFE login,
 * token lookup and revocation, `/v1/<mount>/{data,metadata,delete,undelete,destroy,config}/…`,
 * health, and Parley's admin operations under `/v1/sys/parley/`. Every request is attributed to
 * a caller (a token, a JWT-SVID, the X509-SVID of the connection, or the admin socket), every
 * secrets request is decided by policy and audited by the engine.
 */
export function createSecretsApi(deps: SecretsApiDeps): Handler {
  const { engine, auth, admin } = deps;
  const mount = deps.mount ?? 'secret';
  const mountPrefix = `/v1/${mount}/`;

  async function callerOf(
    req: IncomingMessage,
    transport: SecretsTransport,
  ): Promise<SecretCaller> {
    if (transport.kind === 'admin-socket') return { kind: 'admin', name: 'admin-socket' };
    const token = presentedToken(req);
    let spiffeId: string;
    if (token !== undefined) {
      if (JWT_SHAPE.test(token)) {
        const verified = auth.jwt(token);
        if (!verified.ok) throw new ParleyError('permission-denied', 'permission denied');
        spiffeId = verified.spiffeId;
      } else {
        const issued = await auth.lookup(token);
        if (issued === undefined) throw new ParleyError('permission-denied', 'permission denied');
        spiffeId = issued.spiffeId;
      }
    } else if (transport.peerChain().length > 0) {
      const verified = auth.x509(transport.peerChain());
      if (!verified.ok) throw new ParleyError('permission-denied', 'permission denied');
      spiffeId = verified.spiffeId;
    } else {
      throw new ParleyError('permission-denied', 'missing client token');
    }
    return (await auth.isAdmin(spiffeId))
      ? { kind: 'admin', name: spiffeId }
      : { kind: 'workload', spiffeId };
  }

  async function body(req: IncomingMessage): Promise<JsonObjectBody> {
    const value = await deps.readBody(req);
    return value === undefined ? {} : requireObject(value, 'request body');
  }

  async function login(
    req: IncomingMessage,
    res: ServerResponse,
    transport: SecretsTransport,
    requestId: string,
  ): Promise<void> {
    const b = await body(req);
    strictKeys(b, ['jwt', 'role', 'name'], 'login request');
    let method: 'x509' | 'jwt';
    let verified: Authentication;
    if (b['jwt'] !== undefined) {
      if (typeof b['jwt'] !== 'string') throw invalidArgument('jwt must be a string');
      method = 'jwt';
      verified = auth.jwt(b['jwt']);
    } else if (transport.kind === 'listener' && transport.peerChain().length > 0) {
      method = 'x509';
      verified = auth.x509(transport.peerChain());
    } else {
      throw invalidArgument('login needs a JWT-SVID (jwt) or a client X509-SVID (mTLS)');
    }
    if (!verified.ok) {
      await auth.loginRefused(method, verified.reason, requestId);
      throw new ParleyError('permission-denied', 'permission denied');
    }
    const issued = await auth.login(verified.spiffeId, method, requestId);
    sendVault(
      res,
      requestId,
      {
        auth: {
          client_token: issued.token,
          accessor: issued.accessor,
          policies: ['default'],
          token_policies: ['default'],
          metadata: { spiffe_id: verified.spiffeId, method },
          lease_duration: issued.ttlSeconds,
          renewable: false,
          entity_id: '',
          token_type: 'service',
          orphan: true,
          num_uses: 0,
        },
      },
      200,
      '',
    );
  }

  async function tokenSelf(
    req: IncomingMessage,
    res: ServerResponse,
    op: 'lookup-self' | 'revoke-self',
    requestId: string,
  ): Promise<void> {
    const token = presentedToken(req);
    const issued = token === undefined ? undefined : await auth.lookup(token);
    if (token === undefined || issued === undefined) {
      throw new ParleyError('permission-denied', 'permission denied');
    }
    if (op === 'revoke-self') {
      await auth.revoke(token);
      return sendNoContent(res);
    }
    const now = deps.clock.now();
    sendVault(
      res,
      requestId,
      {
        data: {
          accessor: issued.accessor,
          creation_time: Math.floor(issued.createdAt / 1000),
          creation_ttl: Math.round((issued.expiresAt - issued.createdAt) / 1000),
          display_name: `spiffe-${issued.spiffeId}`,
          entity_id: '',
          expire_time: vaultTime(issued.expiresAt),
          explicit_max_ttl: 0,
          meta: { spiffe_id: issued.spiffeId },
          num_uses: 0,
          orphan: true,
          path: 'auth/spiffe/login',
          policies: ['default'],
          renewable: false,
          ttl: Math.max(0, Math.floor((issued.expiresAt - now) / 1000)),
          type: 'service',
        },
      },
      200,
      '',
    );
  }

  async function kv(
    req: IncomingMessage,
    res: ServerResponse,
    caller: SecretCaller,
    rest: string,
    query: URLSearchParams,
    requestId: string,
  ): Promise<void> {
    const method = methodOf(req);
    const slash = rest.indexOf('/');
    const kind = slash === -1 ? rest : rest.slice(0, slash);
    const sub = slash === -1 ? undefined : rest.slice(slash + 1);
    const ctx = { requestId };

    if (kind === 'config' && sub === undefined) {
      checkQuery(query, []);
      if (method !== 'GET') methodNotAllowed();
      return sendVault(res, requestId, {
        data: { cas_required: false, delete_version_after: '0s', max_versions: 0 },
      });
    }
    if (kind === 'metadata' && method === 'GET' && isList(query)) {
      checkQuery(query, ['list']);
      const folder = parseSecretFolder(sub ?? '');
      const r = await engine.list(caller, folder, ctx);
      switch (r.kind) {
        case 'denied':
          return sendErrors(res, 403, ['permission denied']);
        case 'not-found':
          return sendErrors(res, 404, []);
        case 'ok':
          return sendVault(res, requestId, { data: { keys: r.keys } });
      }
    }
    if (sub === undefined || sub === '') {
      throw new ParleyError('not-found', `no handler for route "${mount}/${kind}"`);
    }
    const path = parseSecretPath(sub);
    switch (kind) {
      case 'data':
        return data(req, res, caller, path, query, requestId);
      case 'metadata':
        checkQuery(query, ['list']);
        return metadata(req, res, caller, path, requestId);
      case 'delete':
      case 'undelete':
      case 'destroy': {
        checkQuery(query, []);
        if (method !== 'POST' && method !== 'PUT') methodNotAllowed();
        const b = await body(req);
        strictKeys(b, ['versions'], `${kind} request`);
        const versions = requireVersions(b['versions']);
        const r =
          kind === 'delete'
            ? await engine.deleteVersions(caller, path, versions, ctx)
            : kind === 'undelete'
              ? await engine.undeleteVersions(caller, path, versions, ctx)
              : await engine.destroyVersions(caller, path, versions, ctx);
        return simple(res, r);
      }
      default:
        throw new ParleyError('not-found', `no handler for route "${mount}/${kind}"`);
    }
  }

  function simple(res: ServerResponse, r: { kind: 'denied' | 'ok' | 'not-found' }): void {
    switch (r.kind) {
      case 'denied':
        return sendErrors(res, 403, ['permission denied']);
      case 'not-found':
        return sendErrors(res, 404, []);
      case 'ok':
        return sendNoContent(res);
    }
  }

  async function data(
    req: IncomingMessage,
    res: ServerResponse,
    caller: SecretCaller,
    path: SecretPath,
    query: URLSearchParams,
    requestId: string,
  ): Promise<void> {
    const ctx = { requestId };
    switch (methodOf(req)) {
      case 'GET': {
        checkQuery(query, ['version']);
        const v = query.get('version');
        let version: number | undefined;
        if (v !== null) {
          if (!/^(0|[1-9][0-9]{0,9})$/.test(v)) throw invalidArgument('version must be an integer');
          version = Number(v) === 0 ? undefined : Number(v);
        }
        const r = await engine.read(caller, path, {
          ...ctx,
          ...(version !== undefined && { version }),
        });
        switch (r.kind) {
          case 'denied':
            return sendErrors(res, 403, ['permission denied']);
          case 'not-found':
            return sendErrors(res, 404, []);
          case 'unavailable':
            // Vault answers a deleted or destroyed version with 404 and its metadata.
            return sendVault(
              res,
              requestId,
              { data: { data: null, metadata: versionJson(r.version, r.customMetadata) } },
              404,
            );
          case 'ok':
            return sendVault(res, requestId, {
              data: { data: r.data, metadata: versionJson(r.version, r.customMetadata) },
            });
        }
        return;
      }
      case 'POST':
      case 'PUT': {
        checkQuery(query, []);
        const b = await body(req);
        strictKeys(b, ['data', 'options'], 'write request');
        const secret = requireObject(b['data'], 'data');
        const options = b['options'] === undefined ? {} : requireObject(b['options'], 'options');
        strictKeys(options, ['cas'], 'options');
        const cas = optionalInteger(options, 'cas', 0);
        const r = await engine.write(caller, path, secret, {
          requestId,
          ...(cas !== undefined && { cas }),
        });
        switch (r.kind) {
          case 'denied':
            return sendErrors(res, 403, ['permission denied']);
          case 'cas-mismatch':
            return sendErrors(res, 400, [
              'check-and-set parameter did not match the current version',
            ]);
          case 'cas-required':
            return sendErrors(res, 400, ['check-and-set parameter required for this call']);
          case 'too-large':
            return sendErrors(res, 413, ['secret data is too large']);
          case 'ok':
            return sendVault(res, requestId, { data: versionJson(r.version, r.customMetadata) });
        }
        return;
      }
      case 'DELETE':
        checkQuery(query, []);
        return simple(res, await engine.deleteLatest(caller, path, ctx));
      default:
        methodNotAllowed();
    }
  }

  async function metadata(
    req: IncomingMessage,
    res: ServerResponse,
    caller: SecretCaller,
    path: SecretPath,
    requestId: string,
  ): Promise<void> {
    const ctx = { requestId };
    switch (methodOf(req)) {
      case 'GET': {
        const r = await engine.readMetadata(caller, path, ctx);
        switch (r.kind) {
          case 'denied':
            return sendErrors(res, 403, ['permission denied']);
          case 'not-found':
            return sendErrors(res, 404, []);
          case 'ok':
            return sendVault(res, requestId, { data: metadataJson(r.metadata) });
        }
        return;
      }
      case 'POST':
      case 'PUT': {
        const b = await body(req);
        strictKeys(b, METADATA_KEYS, 'metadata request');
        const maxVersions = optionalInteger(b, 'max_versions', 0);
        const casRequired = optionalBoolean(b, 'cas_required');
        const deleteVersionAfterMs = optionalDurationMs(b, 'delete_version_after');
        const customMetadata = optionalStringMap(b, 'custom_metadata');
        return simple(
          res,
          await engine.writeMetadata(
            caller,
            path,
            {
              ...(maxVersions !== undefined && { maxVersions }),
              ...(casRequired !== undefined && { casRequired }),
              ...(deleteVersionAfterMs !== undefined && { deleteVersionAfterMs }),
              ...(customMetadata !== undefined && { customMetadata }),
            },
            ctx,
          ),
        );
      }
      case 'DELETE':
        return simple(res, await engine.deleteMetadata(caller, path, ctx));
      default:
        methodNotAllowed();
    }
  }

  async function sys(
    req: IncomingMessage,
    res: ServerResponse,
    caller: SecretCaller,
    rest: string,
    query: URLSearchParams,
    requestId: string,
  ): Promise<void> {
    if (caller.kind !== 'admin') throw new ParleyError('permission-denied', 'permission denied');
    const method = methodOf(req);
    const [op = '', ...tail] = rest.split('/');
    const arg = tail.join('/');
    switch (op) {
      case 'secret-policies': {
        if (arg === '') {
          checkQuery(query, ['list']);
          if (method !== 'GET' || !isList(query)) methodNotAllowed();
          return sendVault(res, requestId, { data: { keys: await admin.listPolicies() } }, 200, '');
        }
        checkQuery(query, []);
        switch (method) {
          case 'GET': {
            const policy = await admin.getPolicy(arg);
            if (policy === undefined) return sendErrors(res, 404, []);
            return sendVault(res, requestId, { data: policy }, 200, '');
          }
          case 'POST':
          case 'PUT':
            await admin.putPolicy(caller, arg, await body(req), requestId);
            return sendNoContent(res);
          case 'DELETE':
            return (await admin.deletePolicy(caller, arg, requestId))
              ? sendNoContent(res)
              : sendErrors(res, 404, []);
          default:
            methodNotAllowed();
        }
        return;
      }
      case 'rotate':
        checkQuery(query, []);
        if (method !== 'POST' && method !== 'PUT') methodNotAllowed();
        return sendVault(
          res,
          requestId,
          { data: await admin.rotate(caller, parseSecretPath(arg), await body(req), requestId) },
          200,
          '',
        );
      case 'rotation': {
        checkQuery(query, []);
        if (method !== 'GET') methodNotAllowed();
        const status = await admin.rotationStatus(parseSecretPath(arg));
        if (status === undefined) return sendErrors(res, 404, []);
        return sendVault(res, requestId, { data: status }, 200, '');
      }
      case 'revoke-previous':
        checkQuery(query, []);
        if (method !== 'POST' && method !== 'PUT') methodNotAllowed();
        return (await admin.revokePrevious(caller, parseSecretPath(arg), requestId))
          ? sendNoContent(res)
          : sendErrors(res, 404, []);
      case 'rewrap':
        checkQuery(query, []);
        if (method !== 'POST' && method !== 'PUT') methodNotAllowed();
        if (arg !== '') methodNotAllowed();
        return sendVault(res, requestId, { data: await admin.rewrap(caller, requestId) }, 200, '');
      default:
        throw new ParleyError('not-found', `no handler for route "sys/parley/${op}"`);
    }
  }

  return async (req, res, transport) => {
    const requestId = randomUUID();
    try {
      const { path, query } = splitTarget(req.url ?? '');
      if (path === '/v1/sys/health') {
        checkQuery(query, ['standbyok', 'perfstandbyok']);
        return sendVault(res, requestId, {
          data: { initialized: true, sealed: false, standby: false, version: 'parley' },
        });
      }
      if (path === '/v1/auth/spiffe/login') {
        if (methodOf(req) !== 'POST' && methodOf(req) !== 'PUT') methodNotAllowed();
        checkQuery(query, []);
        return await login(req, res, transport, requestId);
      }
      if (path === '/v1/auth/token/lookup-self' || path === '/v1/auth/token/revoke-self') {
        const op = path.endsWith('lookup-self') ? 'lookup-self' : 'revoke-self';
        checkQuery(query, []);
        const m = methodOf(req);
        if (op === 'lookup-self' ? m !== 'GET' : m !== 'POST' && m !== 'PUT') methodNotAllowed();
        return await tokenSelf(req, res, op, requestId);
      }
      if (path.startsWith(mountPrefix)) {
        const caller = await callerOf(req, transport);
        return await kv(req, res, caller, path.slice(mountPrefix.length), query, requestId);
      }
      if (path.startsWith('/v1/sys/parley/')) {
        const caller = await callerOf(req, transport);
        return await sys(req, res, caller, path.slice('/v1/sys/parley/'.length), query, requestId);
      }
      sendErrors(res, 404, [`no handler for route "${path.slice(4, 200)}"`]);
    } catch (err) {
      sendError(res, err, deps.log);
    }
  };
}

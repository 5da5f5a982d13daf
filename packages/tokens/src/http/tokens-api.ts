import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TokenSigningKeys } from '../keys/signing-keys.js';
import {
  type AssertionRules,
  type AuthenticatedClient,
  type PresentedClient,
  authenticateClient,
} from '../oauth/client-auth.js';
import { authorizationServerMetadata } from '../oauth/server-metadata.js';
import type { TokenService } from '../oauth/token-service.js';
import {
  MAX_TOKEN_REQUEST_BYTES,
  OAuthError,
  bodyClientAuth,
  parseForm,
  parseTokenRequest,
} from '../oauth/token-request.js';

/** The TLS client certificate of a request, verified as an X509-SVID (undefined when none). */
export type PeerCertificate = PresentedClient['certificate'];

const JSON_TYPE = 'application/json;charset=UTF-8';
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
/** Validators cache the JWK Set this long; keys are published well before (overlap) they sign. */
export const JWKS_MAX_AGE_S = 60;

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': JSON_TYPE,
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Reads a request body of at most `max` bytes as UTF-8 text. */
function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      reject(new OAuthError('invalid_request', `the request exceeds ${max} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        reject(new OAuthError('invalid_request', `the request exceeds ${max} bytes`));
      } else chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

/**
 * The tokens module's HTTP API (docs/tokens.md): RFC 8414 metadata (and its OpenID discovery
 * alias), the JWK Set, and the token (RFC 6749/8693), introspection (RFC 7662) and revocation
 * (RFC 7009) endpoints. Errors are RFC 6749 §5.2 JSON; `invalid_client` is 401 (RFC 6749 §5.2,
 * RFC 7662 §2.3).
 */
export function createTokensApi(deps: {
  readonly issuer: string;
  readonly service: TokenService;
  readonly keys: TokenSigningKeys;
  readonly algorithms: readonly string[];
  /** How client assertions are checked, at each request's time. */
  readonly assertionRules: () => AssertionRules;
  readonly log: (message: string, fields: Record<string, unknown>) => void;
}): (req: IncomingMessage, res: ServerResponse, peer: () => PeerCertificate) => Promise<void> {
  const metadata = JSON.stringify(authorizationServerMetadata(deps.issuer, deps.algorithms));

  async function authenticated(
    req: IncomingMessage,
    params: ReadonlyMap<string, readonly string[]>,
    peer: () => PeerCertificate,
  ): Promise<AuthenticatedClient> {
    const body = bodyClientAuth(params);
    const certificate = peer();
    return authenticateClient(
      {
        ...(req.headers.authorization !== undefined && {
          authorization: req.headers.authorization,
        }),
        ...body,
        ...(certificate !== undefined && { certificate }),
      },
      deps.assertionRules(),
    );
  }

  /** An introspection or revocation request: its authenticated client and its `token`. */
  async function tokenRequest(req: IncomingMessage, peer: () => PeerCertificate) {
    const type = req.headers['content-type'];
    const params = parseForm(type, await readBody(req, MAX_TOKEN_REQUEST_BYTES));
    const client = await authenticated(req, params, peer);
    const token = params.get('token')?.[0];
    if (token === undefined) throw new OAuthError('invalid_request', 'token is required');
    return { client, token };
  }

  const endpoints: Record<
    string,
    (req: IncomingMessage, res: ServerResponse, peer: () => PeerCertificate) => Promise<void>
  > = {
    '/oauth2/token': async (req, res, peer) => {
      const text = await readBody(req, MAX_TOKEN_REQUEST_BYTES);
      const request = parseTokenRequest(req.headers['content-type'], text);
      const client = await authenticated(req, parseForm(req.headers['content-type'], text), peer);
      send(res, 200, await deps.service.token(client, request), NO_STORE);
    },
    '/oauth2/introspect': async (req, res, peer) => {
      const { client, token } = await tokenRequest(req, peer);
      send(res, 200, await deps.service.introspect(client, token), NO_STORE);
    },
    '/oauth2/revoke': async (req, res, peer) => {
      const { client, token } = await tokenRequest(req, peer);
      await deps.service.revoke(client, token);
      res.writeHead(200, { 'Content-Length': 0, ...NO_STORE });
      res.end();
    },
  };

  return async (req, res, peer) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    try {
      if (
        path === '/.well-known/oauth-authorization-server' ||
        path === '/.well-known/openid-configuration'
      ) {
        if (method !== 'GET' && method !== 'HEAD') {
          send(res, 405, { error: 'method_not_allowed' }, { Allow: 'GET, HEAD' });
        } else send(res, 200, metadata, { 'Cache-Control': 'public, max-age=300' });
        return;
      }
      if (path === '/oauth2/jwks') {
        if (method !== 'GET' && method !== 'HEAD') {
          send(res, 405, { error: 'method_not_allowed' }, { Allow: 'GET, HEAD' });
        } else {
          send(res, 200, deps.keys.jwksJson(), {
            'Content-Type': 'application/jwk-set+json',
            'Cache-Control': `public, max-age=${JWKS_MAX_AGE_S}`,
          });
        }
        return;
      }
      const endpoint = endpoints[path];
      if (endpoint === undefined || !Object.hasOwn(endpoints, path)) {
        send(res, 404, { error: 'not_found' });
        return;
      }
      if (method !== 'POST') {
        send(res, 405, { error: 'method_not_allowed' }, { Allow: 'POST' });
        return;
      }
      await endpoint(req, res, peer);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof OAuthError) {
        const status = err.error === 'invalid_client' ? 401 : 400;
        send(
          res,
          status,
          { error: err.error, error_description: err.description },
          {
            ...NO_STORE,
            ...(status === 401 && { 'WWW-Authenticate': 'Basic realm="parley", charset="UTF-8"' }),
          },
        );
        return;
      }
      deps.log('request failed', { path, error: err });
      send(res, 500, { error: 'server_error', error_description: 'internal error' }, NO_STORE);
    }
  };
}

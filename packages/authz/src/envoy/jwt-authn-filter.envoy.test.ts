// Envoy's JWT filter as Parley configures it, checked against a real Envoy 1.40: requests without
// a token pass, a token that does not verify is answered 401 (403 for a wrong audience), a
// verified token's claims land in the dynamic metadata, and verifyEndUserJwt agrees with Envoy's
// answer on every token.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { type Server, type ServerResponse, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { after, before, describe, it } from 'node:test';
import type { AuthzJwtIssuer } from '@parley/api';
import { encodePem, parseDuration, parseSpiffeId, systemClock } from '@parley/core';
import {
  type Envoy,
  type TempDir,
  freePorts,
  makeTempDir,
  makeTestCa,
  startEnvoy,
} from '@parley/testing';
import { mintTestJwt, testSigningKey } from '../jwt/jwt-test-fixtures.js';
import { type EndUserJwtIssuer, verifyEndUserJwt } from '../jwt/verify-end-user-jwt.js';
import {
  JWT_AUTHN_FILTER_NAME,
  JWT_PAYLOAD_METADATA_KEY,
  jwtAuthnFilter,
} from './jwt-authn-filter.js';
import { jwksClusters } from './jwt-jwks-clusters.js';

const es256 = testSigningKey('ES256', 'inline-es');
const rs256 = testSigningKey('RS256', 'inline-rsa');
const eddsa = testSigningKey('EdDSA');
const httpKey = testSigningKey('ES384', 'http-es');
const httpsKey = testSigningKey('PS256', 'https-rsa');

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

const serveJwks = (keys: unknown[]) => (_req: unknown, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ keys }));
};

describe('jwt_authn filter in Envoy', { timeout: 60_000 }, () => {
  let dir: TempDir;
  let envoy: Envoy;
  let listenerPort: number;
  let issuers: AuthzJwtIssuer[];
  let verifierIssuers: EndUserJwtIssuer[];
  const servers: Server[] = [];

  before(async () => {
    dir = await makeTempDir('parley-jwt-envoy-');
    const [listener, httpPort, httpsPort] = await freePorts(3);
    listenerPort = listener as number;
    const ca = await makeTestCa();
    const serverCert = await ca.minter.mintSvid({
      spiffeId: parseSpiffeId('spiffe://example.org/jwks'),
      publicKey: createPublicKey(es256.privateKey),
      ttl: parseDuration('1h'),
      dnsNames: ['localhost'],
    });
    const plain = createServer(serveJwks([httpKey.jwk]));
    const tls = createHttpsServer(
      {
        cert: encodePem('CERTIFICATE', serverCert.der),
        key: es256.privateKey.export({ format: 'pem', type: 'pkcs8' }),
      },
      serveJwks([httpsKey.jwk]),
    );
    await listen(plain, httpPort as number);
    await listen(tls, httpsPort as number);
    servers.push(plain, tls);

    issuers = [
      {
        issuer: 'https://inline.example',
        audiences: ['orders'],
        jwks: { kind: 'inline', keys: [es256.jwk, rs256.jwk, eddsa.jwk] },
        fromHeaders: [{ name: 'authorization', prefix: 'Bearer ' }],
      },
      {
        issuer: 'http-remote',
        audiences: [],
        jwks: { kind: 'remote', uri: `http://127.0.0.1:${httpPort}/jwks` },
        fromHeaders: [{ name: 'authorization', prefix: 'Bearer ' }],
      },
      {
        issuer: 'https-remote',
        audiences: [],
        jwks: { kind: 'remote', uri: `https://localhost:${httpsPort}/jwks` },
        fromHeaders: [{ name: 'x-jwt', prefix: '' }],
      },
    ];
    verifierIssuers = [
      {
        issuer: 'https://inline.example',
        audiences: ['orders'],
        keys: [es256.jwk, rs256.jwk, eddsa.jwk],
      },
      { issuer: 'http-remote', audiences: [], keys: [httpKey.jwk] },
      { issuer: 'https-remote', audiences: [], keys: [httpsKey.jwk] },
    ];
    const filter = jwtAuthnFilter(issuers);
    assert.ok(filter !== undefined);
    envoy = await startEnvoy({
      dir: dir.path,
      name: 'jwt',
      concurrency: 1,
      waitLive: true,
      bootstrap: {
        admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
        static_resources: {
          clusters: jwksClusters(issuers, {
            trustedCa: { pem: encodePem('CERTIFICATE', ca.root.raw) },
          }),
          listeners: [
            {
              name: 'in',
              address: { socket_address: { address: '127.0.0.1', port_value: listenerPort } },
              filter_chains: [
                {
                  filters: [
                    {
                      name: 'envoy.filters.network.http_connection_manager',
                      typed_config: {
                        '@type':
                          'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                        stat_prefix: 'in',
                        route_config: {
                          virtual_hosts: [
                            {
                              name: 'all',
                              domains: ['*'],
                              routes: [
                                {
                                  match: { prefix: '/' },
                                  direct_response: { status: 200, body: { inline_string: 'ok' } },
                                  // What the filter put in the dynamic metadata (no header when nothing).
                                  response_headers_to_add: [
                                    {
                                      header: {
                                        key: 'x-jwt-payload',
                                        value: `%DYNAMIC_METADATA(${JWT_AUTHN_FILTER_NAME}:${JWT_PAYLOAD_METADATA_KEY})%`,
                                      },
                                    },
                                  ],
                                },
                              ],
                            },
                          ],
                        },
                        http_filters: [
                          filter,
                          {
                            name: 'envoy.filters.http.router',
                            typed_config: {
                              '@type':
                                'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                            },
                          },
                        ],
                      },
                    },
                  ],
                },
              ],
            },
          ],
        },
      },
    });
  });

  after(async () => {
    await envoy?.stop();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    await dir?.remove();
  });

  async function send(headers: Record<string, string>) {
    const res = await fetch(`http://127.0.0.1:${listenerPort}/api/orders`, {
      headers,
      signal: AbortSignal.timeout(5000),
    });
    return {
      status: res.status,
      body: await res.text(),
      auth: res.headers.get('www-authenticate'),
      payload: res.headers.get('x-jwt-payload'),
    };
  }

  it('answers as the JWT filter should, and verifyEndUserJwt agrees with it', async () => {
    const now = Math.floor(systemClock.now() / 1000);
    const good = { iss: 'https://inline.example', sub: 'alice', aud: 'orders', exp: now + 600 };
    const other = testSigningKey('ES256', 'inline-es');
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    const cases: [string, Record<string, string>, number][] = [
      ['no-token', {}, 200],
      ['basic-auth', { authorization: 'Basic YWxpY2U6cHc=' }, 200],
      ['valid-es256', bearer(mintTestJwt(es256, { ...good, roles: ['admin'] })), 200],
      ['valid-rs256', bearer(mintTestJwt(rs256, good)), 200],
      ['valid-eddsa', bearer(mintTestJwt(eddsa, good)), 200],
      [
        'aud-with-scheme',
        bearer(mintTestJwt(es256, { ...good, aud: ['x', 'https://orders/'] })),
        200,
      ],
      [
        'remote-http',
        bearer(mintTestJwt(httpKey, { ...good, iss: 'http-remote', aud: 'any' })),
        200,
      ],
      ['remote-https', { 'x-jwt': mintTestJwt(httpsKey, { ...good, iss: 'https-remote' }) }, 200],
      ['bad-signature', bearer(mintTestJwt(other, good)), 401],
      ['expired', bearer(mintTestJwt(es256, { ...good, exp: now - 3600 })), 401],
      ['not-yet-valid', bearer(mintTestJwt(es256, { ...good, nbf: now + 3600 })), 401],
      ['no-exp', bearer(mintTestJwt(es256, { ...good, exp: undefined })), 401],
      ['wrong-issuer', bearer(mintTestJwt(es256, { ...good, iss: 'https://evil.example' })), 401],
      // Envoy answers 403, not 401, to a verified token of the wrong audience.
      ['wrong-audience', bearer(mintTestJwt(es256, { ...good, aud: 'payments' })), 403],
      ['no-audience', bearer(mintTestJwt(es256, { ...good, aud: undefined })), 403],
      ['wrong-kid', bearer(mintTestJwt(es256, good, { kid: 'inline-rsa' })), 401],
      [
        'alg-none',
        bearer(`${mintTestJwt(es256, good, { alg: 'none' }).split('.').slice(0, 2).join('.')}.`),
        401,
      ],
      ['key-of-other-issuer', bearer(mintTestJwt(httpKey, good)), 401],
      ['garbage', bearer('not.a.jwt'), 401],
    ];
    const seen: string[] = [];
    const payloads = new Map<string, string | null>();
    for (const [name, headers, expected] of cases) {
      const r = await send(headers);
      seen.push(`${name}: ${r.status} ${r.body}`);
      payloads.set(name, r.payload);
      assert.equal(r.status, expected, `${name}: ${r.status} ${r.body}\n${seen.join('\n')}`);
      if (expected !== 200) assert.match(r.auth ?? '', /^Bearer /, name);
      const token = headers['authorization']?.replace(/^Bearer /, '') ?? headers['x-jwt'];
      if (token !== undefined && !headers['authorization']?.startsWith('Basic')) {
        const verdict = verifyEndUserJwt(token, verifierIssuers, systemClock);
        assert.equal(
          verdict.ok ? 200 : verdict.status,
          r.status,
          `${name}: verifyEndUserJwt ${verdict.ok ? 'accepts' : `refuses (${verdict.reason})`}, Envoy ${r.status} ${r.body}`,
        );
      }
    }

    // The claims of a verified token are in the dynamic metadata; none without a token.
    assert.equal(payloads.get('no-token'), null);
    assert.equal(payloads.get('basic-auth'), null);
    const claims = JSON.parse(payloads.get('valid-es256') ?? '') as Record<string, unknown>;
    assert.deepEqual(
      [claims['iss'], claims['sub'], claims['roles']],
      ['https://inline.example', 'alice', ['admin']],
    );
    assert.match(payloads.get('remote-https') ?? '', /"iss":"https-remote"/);
  });
});

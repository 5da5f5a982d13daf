import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createHmac, createPrivateKey, sign } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createRemoteJWKSet, customFetch as joseFetch, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import {
  type Daemon,
  type TempDir,
  findPeer,
  freePorts,
  httpOk,
  makeTempDir,
  waitFor,
} from '@parley/testing';
import { parley, startParley } from '../identity/harness.js';

const run = promisify(execFile);
const TD = 'spiffe://example.org';
const APP = `${TD}/app`;
const GATEWAY = `${TD}/gateway`;
const OTHER = `${TD}/other`;
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const POLICY = `apiVersion: parley.dev/v1
kind: TokenPolicy
metadata: { name: clients }
spec:
  rules:
    - name: app
      clients: [${APP}]
      audiences: [api]
      scopes: [api:read, api:write]
      maxTtl: 10m
    - name: gateway-exchanges
      clients: [${GATEWAY}]
      grants: [token-exchange]
      audiences: [api-internal]
      scopes: [api:read]
      subjects: { issuers: [self], subjects: ["${TD}/*"] }
`;

interface Svid {
  readonly cert: string;
  readonly key: string;
}

interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Record<string, string | string[] | undefined>;
}

const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<
    string,
    unknown
  >;
const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

// The tokens module of a real `parley server run`, driven by real OAuth clients: openid-client and
// oauth4webapi (discovery, client credentials over mTLS and with a JWT-SVID assertion, token
// exchange, introspection, revocation, RFC 9068 validation), jose (remote JWK Set) and Go's
// x/oauth2 clientcredentials; then bad input and a key rotation under validation.
describe('tokens: OAuth clients against the token server', () => {
  let temp: TempDir;
  let server: Daemon;
  let issuer = '';
  let bundle = '';
  let adminSocket = '';
  const svids = new Map<string, Svid>();
  const received: string[] = [];
  const admin = (...args: string[]) => parley([...args, '--socket', adminSocket]);

  /** undici's fetch over TLS trusting the bundle, presenting `svid` when given. */
  const fetchAs = (svid?: Svid) => {
    const dispatcher = new Agent({
      connect: { ca: bundle, ...(svid !== undefined && { cert: svid.cert, key: svid.key }) },
    });
    return (url: string, options: object): Promise<Response> =>
      undiciFetch(url, { ...options, dispatcher });
  };

  /** One raw form POST to `path` (no client library to tidy it up). */
  const post = (
    path: string,
    body: string,
    options: { svid?: Svid; headers?: Record<string, string> } = {},
  ) =>
    new Promise<Reply>((resolve, reject) => {
      const req = httpsRequest(
        `${issuer}${path}`,
        {
          method: 'POST',
          ca: bundle,
          ...(options.svid !== undefined && { cert: options.svid.cert, key: options.svid.key }),
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...options.headers },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
              headers: res.headers,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const mint = async (svid: Svid, fields: Record<string, string> = {}) => {
    const r = await post(
      '/oauth2/token',
      form({ grant_type: 'client_credentials', audience: 'api', ...fields }),
      { svid },
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const token = r.body['access_token'] as string;
    received.push(token);
    return token;
  };
  const jwtSvid = async (id: string, audience: string, ttl = '5m') => {
    const r = await admin('jwt', 'mint', '--spiffe-id', id, '--audience', audience, '--ttl', ttl);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    received.push(token);
    return token;
  };

  before(async () => {
    temp = await makeTempDir('parley-e2e-oauth-');
    const [healthPort, apiPort, xdsPort, tokensPort, authzPort] = await freePorts(5);
    issuer = `https://localhost:${tokensPort}`;
    adminSocket = join(temp.path, 'admin.sock');
    const repo = join(temp.path, 'mesh');
    await mkdir(repo);
    const git = (...args: string[]) =>
      run('git', ['-C', repo, ...args], {
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 'e2e',
          GIT_AUTHOR_EMAIL: 'e2e@parley.invalid',
          GIT_COMMITTER_NAME: 'e2e',
          GIT_COMMITTER_EMAIL: 'e2e@parley.invalid',
        },
      });
    await git('init', '-q', '-b', 'main');
    await writeFile(join(repo, 'tokens.yaml'), POLICY);
    await git('add', '-A');
    await git('commit', '-qm', 'token policy');
    const config = join(temp.path, 'server.yaml');
    await writeFile(
      config,
      [
        'trustDomain: example.org',
        `dataDir: ${join(temp.path, 'server')}`,
        `agentApiAddress: 127.0.0.1:${apiPort}`,
        `adminSocket: ${adminSocket}`,
        `healthAddress: 127.0.0.1:${healthPort}`,
        'mesh:',
        `  xdsAddress: 127.0.0.1:${xdsPort}`,
        `  repository: ${repo}`,
        '  pollInterval: 200ms',
        'authz:',
        `  address: 127.0.0.1:${authzPort}`,
        'tokens:',
        `  address: 127.0.0.1:${tokensPort}`,
        // Short periods, so the rotation test below sees several keys: published 8 s ahead.
        '  signing: { rotateEvery: 20s, overlap: 8s, publishLead: 6s }',
        '  maxTokenTtl: 10m',
      ].join('\n'),
    );
    server = startParley(['server', 'run', '--config', config]);
    await waitFor(
      'tokens listening',
      async () =>
        (await httpOk(`http://127.0.0.1:${healthPort}/ready`)) &&
        server.log().includes('tokens listening'),
      30_000,
      () => server.log(),
    );
    const b = await admin('bundle', 'show', '-o', 'pem');
    assert.equal(b.code, 0, b.stderr);
    bundle = b.stdout;
    await writeFile(join(temp.path, 'bundle.pem'), bundle);
    for (const id of [APP, GATEWAY, OTHER]) {
      const out = join(temp.path, id.split('/').at(-1) as string);
      await mkdir(out);
      const m = await admin('x509', 'mint', '--spiffe-id', id, '--write', out);
      assert.equal(m.code, 0, m.stderr);
      svids.set(id, {
        cert: await readFile(join(out, 'svid.pem'), 'utf8'),
        key: await readFile(join(out, 'key.pem'), 'utf8'),
      });
    }
    // The policy is in force once the mesh commit is served.
    await waitFor(
      'the TokenPolicy served',
      async () =>
        (
          await post('/oauth2/token', form({ grant_type: 'client_credentials', audience: 'api' }), {
            svid: svids.get(APP) as Svid,
          })
        ).status === 200,
      20_000,
      () => server.log(),
    );
  });

  after(async () => {
    await server?.stop();
    await temp?.remove();
  });

  const app = () => svids.get(APP) as Svid;
  const gateway = () => svids.get(GATEWAY) as Svid;

  it('openid-client: discovery, client credentials over mTLS (tls_client_auth), a certificate-bound RFC 9068 token', async () => {
    const config = await client.discovery(new URL(issuer), APP, undefined, client.TlsClientAuth(), {
      [client.customFetch]: fetchAs(app()),
    });
    assert.equal(config.serverMetadata().issuer, issuer);
    const tokens = await client.clientCredentialsGrant(config, {
      audience: 'api',
      scope: 'api:read',
    });
    received.push(tokens.access_token);
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(tokens.scope, 'api:read');
    const jwks = createRemoteJWKSet(new URL(`${issuer}/oauth2/jwks`), {
      [joseFetch]: fetchAs(),
    });
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer,
      audience: 'api',
      typ: 'at+jwt',
      requiredClaims: ['jti', 'client_id', 'iat', 'exp', 'sub'],
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.sub, APP);
    assert.equal(payload['client_id'], APP);
    // RFC 8705 §3.1: bound to the SHA-256 of the client certificate's DER.
    const der = Buffer.from(
      app()
        .cert.replace(/-----[^-]+-----/g, '')
        .replace(/\s+/g, ''),
      'base64',
    );
    assert.deepEqual(payload['cnf'], {
      'x5t#S256': createHash('sha256').update(der).digest('base64url'),
    });
  });

  it('openid-client: a JWT-SVID client assertion, token exchange with act, introspection and revocation', async () => {
    const assertion = await jwtSvid(APP, issuer);
    const config = await client.discovery(new URL(issuer), APP, undefined, client.None(), {
      [client.customFetch]: fetchAs(),
    });
    const tokens = await client.clientCredentialsGrant(config, {
      audience: 'api',
      scope: 'api:read api:write',
      client_assertion_type: JWT_BEARER,
      client_assertion: assertion,
    });
    received.push(tokens.access_token);
    assert.equal(claimsOf(tokens.access_token)['cnf'], undefined, 'not certificate-bound');

    const gw = await client.discovery(new URL(issuer), GATEWAY, undefined, client.TlsClientAuth(), {
      [client.customFetch]: fetchAs(gateway()),
    });
    const exchanged = await client.genericGrantRequest(gw, EXCHANGE, {
      subject_token: tokens.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'api-internal',
      scope: 'api:read',
    });
    received.push(exchanged.access_token);
    assert.equal(exchanged.issued_token_type, ACCESS_TOKEN);
    const c = claimsOf(exchanged.access_token);
    assert.equal(c['sub'], APP);
    assert.equal(c['client_id'], GATEWAY);
    assert.deepEqual(c['act'], { sub: GATEWAY });
    assert.equal(c['scope'], 'api:read');

    const info = await client.tokenIntrospection(gw, exchanged.access_token);
    assert.equal(info.active, true);
    assert.equal(info.sub, APP);
    assert.deepEqual(info['act'], { sub: GATEWAY });

    // Only the owner revokes; then the token is inactive everywhere.
    const appMtls = await client.discovery(
      new URL(issuer),
      APP,
      undefined,
      client.TlsClientAuth(),
      {
        [client.customFetch]: fetchAs(app()),
      },
    );
    await assert.rejects(client.tokenRevocation(gw, tokens.access_token), (err: Error) => {
      assert.match(String((err as { error?: string }).error ?? err.message), /unauthorized_client/);
      return true;
    });
    await client.tokenRevocation(appMtls, tokens.access_token);
    assert.equal((await client.tokenIntrospection(gw, tokens.access_token)).active, false);
    // A revoked subject token cannot be exchanged any more.
    await assert.rejects(
      client.genericGrantRequest(gw, EXCHANGE, {
        subject_token: tokens.access_token,
        subject_token_type: ACCESS_TOKEN,
        audience: 'api-internal',
      }),
      (err: Error) => {
        assert.equal((err as { error?: string }).error, 'invalid_grant');
        return true;
      },
    );
  });

  it('oauth4webapi: discovery, client credentials with a JWT-SVID assertion, RFC 9068 validation, introspection over mTLS', async () => {
    const as = await oauth.processDiscoveryResponse(
      new URL(issuer),
      await oauth.discoveryRequest(new URL(issuer), { [oauth.customFetch]: fetchAs() }),
    );
    const appClient: oauth.Client = { client_id: APP };
    const assertion = await jwtSvid(APP, issuer);
    const jwtSvidAuth: oauth.ClientAuth = (_as, c, body) => {
      body.set('client_id', c.client_id);
      body.set('client_assertion_type', JWT_BEARER);
      body.set('client_assertion', assertion);
    };
    const response = await oauth.processClientCredentialsResponse(
      as,
      appClient,
      await oauth.clientCredentialsGrantRequest(
        as,
        appClient,
        jwtSvidAuth,
        { audience: 'api', scope: 'api:write' },
        { [oauth.customFetch]: fetchAs() },
      ),
    );
    received.push(response.access_token);
    // The resource server's side: oauth4webapi's own RFC 9068 checks, keys from the jwks_uri.
    const claims = await oauth.validateJwtAccessToken(
      as,
      new Request('https://api.example/orders', {
        headers: { authorization: `Bearer ${response.access_token}` },
      }),
      'api',
      { [oauth.customFetch]: fetchAs() },
    );
    assert.equal(claims.client_id, APP);
    assert.equal(claims.scope, 'api:write');
    await assert.rejects(
      oauth.validateJwtAccessToken(
        as,
        new Request('https://other.example/', {
          headers: { authorization: `Bearer ${response.access_token}` },
        }),
        'other',
        { [oauth.customFetch]: fetchAs() },
      ),
      'another audience is refused',
    );

    const gwClient: oauth.Client = { client_id: GATEWAY };
    const introspection = await oauth.processIntrospectionResponse(
      as,
      gwClient,
      await oauth.introspectionRequest(as, gwClient, oauth.TlsClientAuth(), response.access_token, {
        [oauth.customFetch]: fetchAs(gateway()),
      }),
    );
    assert.equal(introspection.active, true);
    assert.equal(introspection.client_id, APP);
  });

  it('Go x/oauth2 clientcredentials: the SPIFFE ID as client id over HTTP Basic, with mTLS', async () => {
    const dir = join(temp.path, 'app');
    const { stdout } = await run(findPeer('go-oauth2-client'), [
      '-token-url',
      `${issuer}/oauth2/token`,
      '-ca',
      join(temp.path, 'bundle.pem'),
      '-cert',
      join(dir, 'svid.pem'),
      '-key',
      join(dir, 'key.pem'),
      '-client-id',
      APP,
      '-audience',
      'api',
      '-scope',
      'api:read api:write',
    ]);
    const token = (JSON.parse(stdout) as { access_token: string }).access_token;
    received.push(token);
    const c = claimsOf(token);
    assert.equal(c['client_id'], APP);
    assert.equal(c['scope'], 'api:read api:write');
  });

  it('refuses bad input with the RFC error codes (RFC 6749, 7523, 8693, 8725, 9700)', async () => {
    const key = createPrivateKey(app().key);
    const good = await mint(app());
    const [h, c] = good.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    const es256 = (input: string) =>
      sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    const forged = (hdr: object, claims = c) => {
      const input = `${b64(hdr)}.${claims}`;
      return `${input}.${es256(input)}`;
    };
    const jwks = (await (await fetchAs()(`${issuer}/oauth2/jwks`, {})).json()) as {
      keys: object[];
    };
    const hmac = (hdr: object) => {
      const input = `${b64(hdr)}.${c}`;
      return `${input}.${createHmac('sha256', JSON.stringify(jwks.keys[0])).update(input).digest('base64url')}`;
    };
    // Forged subject tokens: each refused as invalid_grant, and inactive at introspection.
    const forgedTokens: [string, string][] = [
      ['alg none', `${b64({ ...header, alg: 'none' })}.${c}.`],
      ['alg NoNe', `${b64({ ...header, alg: 'NoNe' })}.${c}.`],
      ['HS256 with the public key as secret', hmac({ ...header, alg: 'HS256' })],
      ['jku header', forged({ ...header, jku: `${issuer}/evil` })],
      ['x5u header', forged({ ...header, x5u: `${issuer}/evil` })],
      ['jwk header', forged({ ...header, jwk: { kty: 'EC' } })],
      ['crit header', forged({ ...header, crit: ['exp'] })],
      [
        'deeply nested claims',
        forged(header, b64(JSON.parse(`${'['.repeat(500)}${']'.repeat(500)}`) as object)),
      ],
    ];
    for (const [what, token] of forgedTokens) {
      const exchange = await post(
        '/oauth2/token',
        form({
          grant_type: EXCHANGE,
          subject_token: token,
          subject_token_type: ACCESS_TOKEN,
          audience: 'api-internal',
        }),
        { svid: gateway() },
      );
      assert.equal(exchange.status, 400, what);
      assert.equal(exchange.body['error'], 'invalid_grant', what);
      const info = await post('/oauth2/introspect', form({ token }), { svid: gateway() });
      assert.deepEqual(info.body, { active: false }, what);
    }

    // Client assertions.
    const assertion = (claims: object, hdr: object = { alg: 'ES256', kid: 'x', typ: 'JWT' }) => {
      const input = `${b64(hdr)}.${b64(claims)}`;
      return `${input}.${es256(input)}`;
    };
    const now = Math.floor(Date.now() / 1000);
    const asClient = (a: string) =>
      post(
        '/oauth2/token',
        form({
          grant_type: 'client_credentials',
          audience: 'api',
          client_assertion_type: JWT_BEARER,
          client_assertion: a,
        }),
      );
    const assertions: [string, string][] = [
      ['audience = token endpoint URL', await jwtSvid(APP, `${issuer}/oauth2/token`)],
      ['expires too late', await jwtSvid(APP, issuer, '2h')],
      [
        'signed by the client key, not a JWT authority',
        assertion({ sub: APP, aud: issuer, exp: now + 60 }),
      ],
      ['expired', assertion({ sub: APP, aud: issuer, exp: now - 60 })],
      ['future-dated', assertion({ sub: APP, aud: issuer, exp: now + 600, iat: now + 3600 })],
      [
        'jku header',
        assertion(
          { sub: APP, aud: issuer, exp: now + 60 },
          { alg: 'ES256', kid: 'x', jku: issuer },
        ),
      ],
    ];
    for (const [what, a] of assertions) {
      const r = await asClient(a);
      assert.equal(r.status, 401, what);
      assert.equal(r.body['error'], 'invalid_client', what);
    }

    const cases: [string, Promise<Reply>, number, string][] = [
      [
        'no client authentication',
        post('/oauth2/token', form({ grant_type: 'client_credentials' })),
        401,
        'invalid_client',
      ],
      [
        'a client secret over Basic',
        post('/oauth2/token', form({ grant_type: 'client_credentials' }), {
          svid: app(),
          headers: {
            authorization: `Basic ${Buffer.from(`${encodeURIComponent(APP)}:secret`).toString('base64')}`,
          },
        }),
        401,
        'invalid_client',
      ],
      [
        'a client_id that is not the certificate',
        post('/oauth2/token', form({ grant_type: 'client_credentials', client_id: GATEWAY }), {
          svid: app(),
        }),
        401,
        'invalid_client',
      ],
      [
        'introspection without authentication',
        post('/oauth2/introspect', form({ token: good })),
        401,
        'invalid_client',
      ],
      [
        'an unknown grant type',
        post('/oauth2/token', form({ grant_type: 'password' }), { svid: app() }),
        400,
        'unsupported_grant_type',
      ],
      [
        'a repeated parameter',
        post('/oauth2/token', 'grant_type=client_credentials&scope=a&scope=b', { svid: app() }),
        400,
        'invalid_request',
      ],
      [
        'an oversized body',
        post('/oauth2/token', `grant_type=client_credentials&x=${'a'.repeat(70_000)}`, {
          svid: app(),
        }),
        400,
        'invalid_request',
      ],
      [
        'a client outside the policy',
        post('/oauth2/token', form({ grant_type: 'client_credentials', audience: 'api' }), {
          svid: svids.get(OTHER) as Svid,
        }),
        400,
        'unauthorized_client',
      ],
      [
        'an audience not allowed',
        post('/oauth2/token', form({ grant_type: 'client_credentials', audience: 'billing' }), {
          svid: app(),
        }),
        400,
        'invalid_target',
      ],
      [
        'a scope not allowed',
        post(
          '/oauth2/token',
          form({ grant_type: 'client_credentials', audience: 'api', scope: 'api:admin' }),
          { svid: app() },
        ),
        400,
        'invalid_scope',
      ],
    ];
    for (const [what, reply, status, error] of cases) {
      const r = await reply;
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body['error'], error, what);
      if (status === 401) assert.ok(r.headers['www-authenticate'] !== undefined, what);
    }
    // RFC 7009 §2.2: an unknown or invalid token is answered 200.
    assert.equal(
      (await post('/oauth2/revoke', form({ token: 'garbage' }), { svid: app() })).status,
      200,
    );
  });

  it('rotates signing keys while clients validate with a cached JWK Set: no validation fails', async () => {
    const jwks = createRemoteJWKSet(new URL(`${issuer}/oauth2/jwks`), {
      [joseFetch]: fetchAs(),
      // Validators cache the set no longer than a key is published before it signs.
      cacheMaxAge: 5_000,
      cooldownDuration: 30_000,
    });
    const kids = new Set<string>();
    let failures = 0;
    let validated = 0;
    const end = Date.now() + 26_000;
    let rotated = false;
    while (Date.now() < end) {
      if (!rotated && Date.now() > end - 13_000) {
        rotated = true;
        const r = await admin('oauth', 'keys', 'rotate');
        assert.equal(r.code, 0, r.stderr);
      }
      const token = await mint(app());
      try {
        const { protectedHeader } = await jwtVerify(token, jwks, {
          issuer,
          audience: 'api',
          typ: 'at+jwt',
        });
        kids.add(protectedHeader.kid ?? '');
        validated += 1;
      } catch {
        failures += 1;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(failures, 0, `${failures} of ${validated + failures} validations failed`);
    assert.ok(kids.size >= 2, `tokens of ${kids.size} key(s) seen`);
  });

  it('keeps the audit chain intact and no token or assertion in its log', async () => {
    const verify = await admin('audit', 'verify', '-o', 'json');
    assert.equal(verify.code, 0, verify.stdout);
    const log = server.log();
    for (const token of received) {
      assert.ok(!log.includes(token.split('.')[2] ?? token), 'a token signature is in the log');
    }
  });
});

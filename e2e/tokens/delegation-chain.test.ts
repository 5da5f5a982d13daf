import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type TempDir, freePorts, makeTempDir } from '@parley/testing';
import { type MeshCluster, startMeshCluster } from '../mesh/mesh-harness.js';
import { type TestApp, startTestApp } from '../mesh/test-app.js';

const TD = 'spiffe://example.org';
const A = `${TD}/service-a`;
const B = `${TD}/service-b`;
const C = `${TD}/service-c`;
const D = `${TD}/service-d`;
const IDP = 'https://idp.example';
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

interface Svid {
  readonly cert: string;
  readonly key: string;
}

/** A user's access token from the IdP the test plays (ES256, the key in a JWKS file). */
function userToken(key: ReturnType<typeof generateKeyPairSync>['privateKey'], claims: object) {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'ES256', kid: 'idp-1', typ: 'JWT' })}.${b64(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

function mesh(
  ports: { a: number[]; b: number[]; d: number[] },
  issuer: string,
): Record<string, string> {
  const service = (name: string, [inbound, outbound, app]: number[], calls: string) => `
apiVersion: parley.dev/v1
kind: Service
metadata: { name: ${name} }
spec:
  spiffeId: ${TD}/${name}
  ports: [{ name: http, port: 80, protocol: http }]
  sidecar: { outbound: [${calls}] }
  endpoints:
    - { name: ${name}-0, inbound: 127.0.0.1:${inbound}, outbound: 127.0.0.1:${outbound}, app: 127.0.0.1:${app} }
`;
  return {
    'services/a.yaml': service('service-a', ports.a, 'service-b, service-d'),
    'services/b.yaml': service('service-b', ports.b, ''),
    'services/d.yaml': service('service-d', ports.d, ''),
    // A's sidecar attaches an access token of its own for D (the app sends none).
    'routes/d.yaml': `
apiVersion: parley.dev/v1
kind: Route
metadata: { name: service-d }
spec:
  host: service-d
  egress: { token: { audience: service-d, source: oauth, scopes: [reports:read] } }
  rules: [{ destinations: [{ service: service-d }] }]
`,
    'tokens.yaml': `
apiVersion: parley.dev/v1
kind: TokenPolicy
metadata: { name: chain }
spec:
  rules:
    - name: a-acts-for-users
      clients: [${A}]
      grants: [token-exchange]
      audiences: [service-b]
      scopes: [orders:read]
      maxTtl: 2m
      subjects: { issuers: [${IDP}], subjects: ["*"] }
    - name: a-own-token
      clients: [${A}]
      audiences: [service-b, service-d]
      scopes: [orders:read, reports:read]
`,
    'authz.yaml': `
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: mesh }
spec:
  defaultAction: DENY
  jwtIssuers:
    - issuer: ${issuer}
      audiences: [service-b, service-d]
      jwksUri: ${issuer}/oauth2/jwks
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: service-b }
spec:
  selector: { services: [service-b] }
  action: ALLOW
  rules:
    - from: [{ principals: [${A}] }]
      to: [{ paths: [/orders] }]
      when:
        - { key: "request.auth.claims[iss]", values: ["${issuer}"] }
        - { key: "request.auth.claims[act][sub]", values: ["${A}"] }
        - { key: "request.auth.claims[scope]", values: ["orders:read"] }
        - { key: "request.auth.claims[sub]", values: [alice] }
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: service-d }
spec:
  selector: { services: [service-d] }
  action: ALLOW
  rules:
    - from: [{ principals: [${A}] }]
      when: [{ key: "request.auth.claims[sub]", values: ["${A}"] }]
`,
  };
}

// Diagram 20 of the seeds: a user's token reaches service A (the test plays the gateway handing
// it on); A exchanges it at Parley's token endpoint for a token of audience service-b that
// records A as the actor; A calls B through both sidecars; B's sidecar checks the SPIFFE caller
// (mTLS) and the delegated user (the JWT, against the issuer's JWKS over SPIFFE mTLS) and decides.
describe('tokens: the delegation chain user → A (token exchange) → B (mTLS + JWT act)', () => {
  let temp: TempDir;
  let cluster: MeshCluster;
  let app: TestApp;
  let appD: TestApp;
  let issuer = '';
  let bundle = '';
  let outboundA = 0;
  const svids = new Map<string, Svid>();
  const idpKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const agent = new Agent({ keepAlive: false });

  const tokenEndpoint = (svid: Svid, form: Record<string, string>) =>
    new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const body = new URLSearchParams(form).toString();
      const req = httpsRequest(
        `${issuer}/oauth2/token`,
        {
          method: 'POST',
          ca: bundle,
          cert: svid.cert,
          key: svid.key,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(text) as Record<string, unknown>,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  /** A calls `host` through its sidecar, with `token` as its bearer token. */
  const call = (host: string, token?: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: outboundA,
          path: '/orders',
          agent,
          headers: {
            host,
            ...(token !== undefined && { authorization: `Bearer ${token}` }),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end();
    });

  const callB = (token?: string) => call('service-b', token);

  const exchange = (client: string, subject: string, audience = 'service-b') =>
    tokenEndpoint(svids.get(client) as Svid, {
      grant_type: EXCHANGE,
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN,
      audience,
      scope: 'orders:read',
    });

  const alice = () => {
    const now = Math.floor(Date.now() / 1000);
    return userToken(idpKey.privateKey, {
      iss: IDP,
      sub: 'alice',
      aud: 'gateway',
      iat: now,
      exp: now + 300,
      scope: 'orders:read profile',
    });
  };

  before(async () => {
    temp = await makeTempDir('parley-e2e-chain-');
    const jwks = join(temp.path, 'idp-jwks.json');
    await writeFile(
      jwks,
      JSON.stringify({
        keys: [
          { ...idpKey.publicKey.export({ format: 'jwk' }), kid: 'idp-1', use: 'sig', alg: 'ES256' },
        ],
      }),
    );
    app = await startTestApp('service-b-0');
    appD = await startTestApp('service-d-0');
    const [tokensPort, ...p] = await freePorts(7);
    const ports = {
      a: [p[0] ?? 0, p[1] ?? 0, 9],
      b: [p[2] ?? 0, p[3] ?? 0, app.port],
      d: [p[4] ?? 0, p[5] ?? 0, appD.port],
    };
    outboundA = p[1] ?? 0;
    issuer = `https://localhost:${tokensPort}`;
    cluster = await startMeshCluster({
      serverConfig: [
        'tokens:',
        `  address: 127.0.0.1:${tokensPort}`,
        '  subjectIssuers:',
        `    - issuer: ${IDP}`,
        `      jwksFile: ${jwks}`,
      ],
      agentConfig: [`tokenEndpoint: https://localhost:${tokensPort}/oauth2/token`],
    });
    const b = await cluster.admin('bundle', 'show', '-o', 'pem');
    assert.equal(b.code, 0, b.stderr);
    bundle = b.stdout;
    for (const id of [A, C]) {
      const out = join(temp.path, id.split('/').at(-1) as string);
      await mkdir(out);
      const m = await cluster.admin('x509', 'mint', '--spiffe-id', id, '--write', out);
      assert.equal(m.code, 0, m.stderr);
      svids.set(id, {
        cert: await readFile(join(out, 'svid.pem'), 'utf8'),
        key: await readFile(join(out, 'key.pem'), 'utf8'),
      });
    }
    const commit = await cluster.commit(mesh(ports, issuer), 'chain');
    await cluster.waitForCommit(commit);
    for (const [name, id] of [
      ['service-a', A],
      ['service-b', B],
      ['service-d', D],
    ] as const) {
      const socket = await cluster.addWorkload(name, id);
      await cluster.startSidecar({ name, spiffeId: id, instance: `${name}-0`, socket });
    }
  });

  after(async () => {
    agent.destroy();
    await cluster?.stop();
    await app?.close();
    await appD?.close();
    await temp?.remove();
  });

  it('A exchanges the user token and B allows the delegated call, seeing alice with A as actor', async () => {
    const r = await exchange(A, alice());
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body['issued_token_type'], ACCESS_TOKEN);
    assert.equal(r.body['scope'], 'orders:read');
    const token = r.body['access_token'] as string;
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      sub: string;
      act: { sub: string };
      aud: string;
      client_id: string;
    };
    assert.equal(claims.sub, 'alice');
    assert.deepEqual(claims.act, { sub: A });
    assert.equal(claims.aud, 'service-b');
    assert.equal(claims.client_id, A);
    assert.equal(await callB(token), 200);
    assert.equal(app.lastHeaders()['authorization'], `Bearer ${token}`);
  });

  it('B refuses a call without a token, with the raw user token, or with A’s own token (no act)', async () => {
    assert.equal(await callB(), 403, 'no token: no ALLOW rule matches');
    assert.equal(await callB(alice()), 401, 'the IdP is not an issuer B trusts');
    const own = await tokenEndpoint(svids.get(A) as Svid, {
      grant_type: 'client_credentials',
      audience: 'service-b',
      scope: 'orders:read',
    });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal(await callB(own.body['access_token'] as string), 403, 'no delegated user');
  });

  it('token egress from the token service: A’s sidecar sends its own certificate-bound access token to D, which D’s sidecar validates', async () => {
    assert.equal(await call('service-d'), 200);
    const header = String(appD.lastHeaders()['authorization'] ?? '');
    assert.match(header, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const token = header.slice('Bearer '.length);
    const [h, c] = token
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>);
    assert.equal(h?.['typ'], 'at+jwt');
    assert.equal(c?.['iss'], issuer);
    assert.equal(c?.['sub'], A);
    assert.equal(c?.['aud'], 'service-d');
    assert.equal(c?.['scope'], 'reports:read');
    assert.ok(
      typeof (c?.['cnf'] as Record<string, unknown> | undefined)?.['x5t#S256'] === 'string',
    );
  });

  it('a service outside the vending policy, or an audience it does not allow, is refused', async () => {
    const c = await exchange(C, alice());
    assert.equal(c.status, 400);
    assert.equal(c.body['error'], 'unauthorized_client');
    const elsewhere = await exchange(A, alice(), 'payments');
    assert.equal(elsewhere.status, 400);
    assert.equal(elsewhere.body['error'], 'invalid_target');
  });
});

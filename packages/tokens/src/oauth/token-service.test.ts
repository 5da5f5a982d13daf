import assert from 'node:assert/strict';
import { type KeyObject, generateKeyPairSync, sign } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type TokenPolicy, parseTokenPolicyDocument } from '@parley/api';
import { type Signer, encodeBase64Url, generateKey, keyObjectSigner } from '@parley/core';
import {
  AuditBatcher,
  type AuditEvent,
  listAuditEvents,
  openStore,
  verifyAuditChain,
} from '@parley/store';
import { makeTempDir } from '@parley/testing';
import { verifyAccessToken } from '../jwt/access-token.js';
import type { VerificationJwk } from '../jwt/jws.js';
import { type PrivateKeyStore, TokenSigningKeys } from '../keys/signing-keys.js';
import { TokenPolicySet } from '../policy/decide-token-grant.js';
import type { AuthenticatedClient, SvidCheck } from './client-auth.js';
import {
  ACCESS_TOKEN_TYPE,
  JWT_TOKEN_TYPE,
  OAuthError,
  type TokenRequest,
} from './token-request.js';
import { type SubjectIssuer, type TokenResponse, createTokenService } from './token-service.js';

const T0 = Date.UTC(2026, 10, 24, 12);
const S = 1000;
const MIN = 60 * S;
const HOUR = 60 * MIN;
const ISSUER = 'https://localhost:8443';
const IDP = 'https://idp.example';
const STRICT_IDP = 'https://strict-idp.example';
const ORDERS = 'spiffe://example.org/orders';
const GATEWAY = 'spiffe://example.org/gateway';
const BILLING = 'spiffe://example.org/billing';
const X5T = 'Y2VydGlmaWNhdGUtdGh1bWJwcmludC1vZi1vcmRlcnM';

const orders: AuthenticatedClient = { clientId: ORDERS, method: 'tls_client_auth', x5tS256: X5T };
const gateway: AuthenticatedClient = { clientId: GATEWAY, method: 'private_key_jwt' };
const billing: AuthenticatedClient = { clientId: BILLING, method: 'private_key_jwt' };

const POLICY: TokenPolicy = parseTokenPolicyDocument(
  {
    rules: [
      {
        name: 'orders-pay',
        clients: [ORDERS],
        audiences: ['payments'],
        scopes: ['payments:charge', 'payments:read'],
        maxTtl: '10m',
      },
      { name: 'orders-ledger', clients: [ORDERS], audiences: ['ledger'], maxTtl: '2h' },
      { name: 'billing-pay', clients: [BILLING], audiences: ['payments'] },
      {
        name: 'gateway-exchange',
        clients: [GATEWAY],
        grants: ['token-exchange'],
        audiences: ['orders'],
        scopes: ['orders:read', 'orders:write'],
        maxTtl: '30m',
        subjects: { issuers: ['self', IDP, STRICT_IDP], subjects: ['*'] },
      },
      {
        name: 'orders-exchange',
        clients: [ORDERS],
        grants: ['token-exchange'],
        audiences: ['payments'],
        scopes: ['orders:read', 'payments:charge'],
        subjects: { issuers: ['self'], subjects: ['user:*'] },
      },
    ],
  },
  'shop',
);

/** Private keys in memory, as the server's memory key manager holds them. */
function memoryKeys(): PrivateKeyStore {
  const keys = new Map<string, Signer>();
  return {
    generateKey: async (id, type) => {
      const signer = keyObjectSigner(generateKey(type));
      keys.set(id, signer);
      return signer;
    },
    getKey: async (id) => keys.get(id),
    deleteKey: async (id) => keys.delete(id),
  };
}

/** An end-user token issuer: an ES256 key, its JWK, and a signer of JWTs. */
function identityProvider(issuer: string, audience?: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `${issuer}#1`;
  const jwk: VerificationJwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig' };
  const subjectIssuer: SubjectIssuer = {
    issuer,
    ...(audience !== undefined && { audience }),
    keys: () => [jwk],
  };
  const mint = (claims: Record<string, unknown>, key: KeyObject = privateKey) => {
    const header = encodeBase64Url(JSON.stringify({ alg: 'ES256', kid, typ: 'JWT' }));
    const body = encodeBase64Url(
      JSON.stringify({ iss: issuer, iat: Math.floor(T0 / 1000), ...claims }),
    );
    const input = `${header}.${body}`;
    const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${encodeBase64Url(sig)}`;
  };
  return { subjectIssuer, mint };
}

/** A token service on a real SQLite store, real signing keys and a clock the test moves. */
async function tokenService(opts: { maxTokenTtlMs?: number } = {}) {
  const dir = await makeTempDir();
  const db = await openStore({ sqlite: { path: join(dir.path, 'store.db') } });
  const clock = { at: T0, now: () => clock.at };
  const maxTokenTtlMs = opts.maxTokenTtlMs ?? HOUR;
  const keys = new TokenSigningKeys({
    db,
    keys: memoryKeys(),
    serverId: 'spiffe://example.org/parley/server',
    schedule: { alg: 'ES256', activeMs: 24 * HOUR, overlapMs: HOUR, maxTokenTtlMs },
    clock,
  });
  await keys.advance();
  const idp = identityProvider(IDP);
  const strictIdp = identityProvider(STRICT_IDP, 'parley');
  // JWT-SVIDs the actor-token verifier knows; anything else is refused.
  const svids = new Map<string, SvidCheck>([
    ['svid-of-gateway', { ok: true, spiffeId: GATEWAY, expiresAt: T0 + 5 * MIN }],
    ['svid-of-orders', { ok: true, spiffeId: ORDERS, expiresAt: T0 + 5 * MIN }],
  ]);
  const service = createTokenService({
    issuer: ISSUER,
    db,
    keys,
    clock,
    policies: () => new TokenPolicySet([POLICY]),
    maxTokenTtlMs,
    subjectIssuers: () => [idp.subjectIssuer, strictIdp.subjectIssuer],
    verifyJwtSvid: (token) => svids.get(token) ?? { ok: false, reason: 'bad signature' },
    audit: new AuditBatcher(db),
  });
  /** Every token string minted or presented in this test, to look for in the audit chain. */
  const secrets: string[] = [];
  const token = async (client: AuthenticatedClient, request: TokenRequest) => {
    if (request.grantType === 'token-exchange') secrets.push(request.subjectToken);
    const r = await service.token(client, request);
    secrets.push(r.access_token);
    return r;
  };
  return {
    db,
    clock,
    keys,
    idp,
    strictIdp,
    service,
    token,
    secrets,
    /** Verifies a token as a resource server would, and returns its header and claims. */
    verify(accessToken: string, audience?: string) {
      const r = verifyAccessToken(accessToken, keys.published(), {
        issuer: ISSUER,
        ...(audience !== undefined && { audience }),
        now: clock.at,
      });
      assert.ok(r.ok, r.ok ? '' : r.reason);
      const [h = '', c = ''] = accessToken.split('.');
      return {
        header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
        claims: JSON.parse(Buffer.from(c, 'base64url').toString()) as Record<string, unknown>,
      };
    },
    async audit(): Promise<AuditEvent[]> {
      return listAuditEvents(db, { module: 'tokens', limit: 1000 });
    },
    async [Symbol.asyncDispose]() {
      await db.close();
      await dir.remove();
    },
  };
}

const clientCredentials = (audience: string[] = [], scope: string[] = []): TokenRequest => ({
  grantType: 'client_credentials',
  audience,
  scope,
  client: {},
});

const exchange = (
  subjectToken: string,
  more: Partial<Extract<TokenRequest, { grantType: 'token-exchange' }>> = {},
): TokenRequest => ({
  grantType: 'token-exchange',
  subjectToken,
  subjectTokenType: ACCESS_TOKEN_TYPE,
  audience: [],
  scope: [],
  client: {},
  ...more,
});

function refused(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof OAuthError, `an OAuthError, not ${String(e)}`);
    assert.equal(e.error, code, e.description);
    return true;
  };
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/** An RFC 8693 `act` claim naming `depth` actors, outermost `actor-<depth>`. */
const chain = (depth: number): Record<string, unknown> =>
  depth === 1 ? { sub: 'actor-1' } : { sub: `actor-${depth}`, act: chain(depth - 1) };

describe('token service: client credentials', () => {
  it('mints an RFC 9068 access token bound to the client certificate', async () => {
    await using t = await tokenService();
    const r: TokenResponse = await t.token(
      orders,
      clientCredentials(['payments'], ['payments:read', 'payments:charge']),
    );
    assert.equal(r.token_type, 'Bearer');
    assert.equal(r.expires_in, 600);
    assert.equal(r.scope, 'payments:read payments:charge');
    assert.equal(r.issued_token_type, undefined);
    const { header, claims } = t.verify(r.access_token, 'payments');
    assert.deepEqual(header, { alg: 'ES256', kid: t.keys.current().kid, typ: 'at+jwt' });
    assert.equal(typeof claims['jti'], 'string');
    assert.deepEqual(claims, {
      iss: ISSUER,
      sub: ORDERS,
      aud: 'payments',
      exp: seconds(T0 + 10 * MIN),
      iat: seconds(T0),
      jti: claims['jti'],
      client_id: ORDERS,
      scope: 'payments:read payments:charge',
      cnf: { 'x5t#S256': X5T },
    });
  });

  it('mints a token without cnf for a JWT-SVID client, and without scope when none is asked', async () => {
    await using t = await tokenService();
    const r = await t.token(billing, clientCredentials());
    assert.equal(r.scope, undefined);
    const { claims } = t.verify(r.access_token, 'payments');
    assert.equal(claims['sub'], BILLING);
    assert.equal(claims['client_id'], BILLING);
    assert.equal('cnf' in claims, false);
    assert.equal('scope' in claims, false);
    assert.equal('act' in claims, false);
    assert.equal(r.expires_in, 300, 'the default maxTtl is 5m');
  });

  it("caps the lifetime by maxTokenTtl as well as by the rule's maxTtl", async () => {
    await using t = await tokenService();
    const ledger = await t.token(orders, clientCredentials(['ledger']));
    assert.equal(ledger.expires_in, 3600, 'maxTtl 2h capped by maxTokenTtl 1h');
    assert.equal(t.verify(ledger.access_token).claims['exp'], seconds(T0 + HOUR));
    await using short = await tokenService({ maxTokenTtlMs: 2 * MIN });
    const pay = await short.token(orders, clientCredentials(['payments']));
    assert.equal(pay.expires_in, 120, 'maxTtl 10m capped by maxTokenTtl 2m');
    assert.equal(short.verify(pay.access_token).claims['exp'], seconds(T0 + 2 * MIN));
  });

  it('refuses what the policy does not allow, with its error code', async () => {
    await using t = await tokenService();
    await assert.rejects(
      t.token(gateway, clientCredentials(['orders'])),
      refused('unauthorized_client'),
    );
    await assert.rejects(
      t.token(orders, clientCredentials(['shipping'])),
      refused('invalid_target'),
    );
    await assert.rejects(t.token(orders, clientCredentials()), refused('invalid_target'));
    await assert.rejects(
      t.token(orders, clientCredentials(['payments'], ['payments:refund'])),
      refused('invalid_scope'),
    );
  });
});

describe('token service: token exchange', () => {
  it('exchanges an external user token, then the result again: act nests the actors', async () => {
    await using t = await tokenService();
    const user = t.idp.mint({
      sub: 'user:alice',
      exp: seconds(T0 + 20 * MIN),
      scope: 'orders:read orders:write profile',
    });
    const first = await t.token(gateway, exchange(user, { subjectTokenType: JWT_TOKEN_TYPE }));
    assert.equal(first.issued_token_type, ACCESS_TOKEN_TYPE);
    assert.equal(first.scope, 'orders:read orders:write', "the subject's scopes the policy allows");
    const a = t.verify(first.access_token, 'orders').claims;
    assert.equal(a['sub'], 'user:alice');
    assert.equal(a['client_id'], GATEWAY);
    assert.deepEqual(a['act'], { sub: GATEWAY });
    assert.equal(a['exp'], seconds(T0 + 20 * MIN), 'the user token expires before maxTtl 30m');
    assert.equal(first.expires_in, 20 * 60);

    t.clock.at += MIN;
    const second = await t.token(
      orders,
      exchange(first.access_token, { audience: ['payments'], scope: ['orders:read'] }),
    );
    const b = t.verify(second.access_token, 'payments').claims;
    assert.equal(b['sub'], 'user:alice');
    assert.equal(b['client_id'], ORDERS);
    assert.deepEqual(b['act'], { sub: ORDERS, act: { sub: GATEWAY } });
    assert.equal(b['scope'], 'orders:read');
    assert.deepEqual(b['cnf'], { 'x5t#S256': X5T });
    assert.ok(Number(b['exp']) <= Number(a['exp']), 'exp ≤ the subject token exp');
    assert.equal(b['exp'], seconds(T0 + 6 * MIN), '5m default maxTtl from the second exchange');

    // A scope the subject token does not hold cannot be added by an exchange.
    await assert.rejects(
      t.token(
        orders,
        exchange(first.access_token, { audience: ['payments'], scope: ['payments:charge'] }),
      ),
      refused('invalid_scope'),
    );
  });

  it('caps the exchanged token at the subject token expiry', async () => {
    await using t = await tokenService();
    const own = await t.token(orders, clientCredentials(['payments']));
    // ORDERS's own token (sub = ORDERS) is no "user:*" subject for orders-exchange, but the
    // gateway may exchange any subject of its own issuer.
    t.clock.at += 9 * MIN;
    const r = await t.token(gateway, exchange(own.access_token, { audience: ['orders'] }));
    const c = t.verify(r.access_token, 'orders').claims;
    assert.equal(c['exp'], seconds(T0 + 10 * MIN));
    assert.equal(r.expires_in, 60);
    assert.equal(c['sub'], ORDERS);
    assert.deepEqual(c['act'], { sub: GATEWAY });
    await assert.rejects(t.token(orders, exchange(own.access_token)), refused('invalid_grant'));
  });

  it('honours may_act: only the client it names may exchange the token', async () => {
    await using t = await tokenService();
    const exp = seconds(T0 + 10 * MIN);
    const forGateway = t.idp.mint({ sub: 'user:bob', exp, may_act: { sub: GATEWAY } });
    const r = await t.token(gateway, exchange(forGateway, { subjectTokenType: JWT_TOKEN_TYPE }));
    assert.equal(t.verify(r.access_token, 'orders').claims['sub'], 'user:bob');
    for (const mayAct of [{ sub: ORDERS }, {}, GATEWAY, [GATEWAY], null]) {
      const other = t.idp.mint({ sub: 'user:bob', exp, may_act: mayAct });
      await assert.rejects(
        t.token(gateway, exchange(other, { subjectTokenType: JWT_TOKEN_TYPE })),
        refused('invalid_grant'),
        JSON.stringify(mayAct),
      );
    }
  });

  it("requires the issuer's audience in the subject token when the issuer sets one", async () => {
    await using t = await tokenService();
    const exp = seconds(T0 + 10 * MIN);
    const withAud = t.strictIdp.mint({ sub: 'user:carol', exp, aud: ['other', 'parley'] });
    const r = await t.token(gateway, exchange(withAud));
    assert.equal(t.verify(r.access_token, 'orders').claims['sub'], 'user:carol');
    for (const aud of [undefined, 'other', ['other']]) {
      const token = t.strictIdp.mint({ sub: 'user:carol', exp, ...(aud !== undefined && { aud }) });
      await assert.rejects(t.token(gateway, exchange(token)), refused('invalid_grant'));
    }
  });

  it('refuses subject tokens that are untrusted, forged, expired, revoked or without sub', async () => {
    await using t = await tokenService();
    const exp = seconds(T0 + 10 * MIN);
    const stranger = identityProvider('https://evil.example');
    const forgedKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const own = await t.token(orders, clientCredentials(['payments']));
    await t.service.revoke(orders, own.access_token);
    const cases: [string, string][] = [
      ['untrusted issuer', stranger.mint({ sub: 'user:alice', exp })],
      ['no iss', t.idp.mint({ sub: 'user:alice', exp, iss: undefined })],
      ['forged signature', t.idp.mint({ sub: 'user:alice', exp }, forgedKey)],
      ['expired', t.idp.mint({ sub: 'user:alice', exp: seconds(T0) })],
      ['no sub', t.idp.mint({ exp })],
      ['empty sub', t.idp.mint({ sub: '', exp })],
      ['revoked Parley token', own.access_token],
      ['garbage', 'not-a-jwt'],
    ];
    for (const [what, token] of cases) {
      await assert.rejects(t.token(gateway, exchange(token)), refused('invalid_grant'), what);
    }
  });

  it('checks the actor token: a JWT-SVID of the client itself', async () => {
    await using t = await tokenService();
    const user = t.idp.mint({ sub: 'user:alice', exp: seconds(T0 + 10 * MIN) });
    const withActor = (actorToken: string, actorTokenType = JWT_TOKEN_TYPE) =>
      exchange(user, { actorToken, actorTokenType });
    const r = await t.token(gateway, withActor('svid-of-gateway'));
    assert.deepEqual(t.verify(r.access_token, 'orders').claims['act'], { sub: GATEWAY });
    await assert.rejects(t.token(gateway, withActor('svid-of-orders')), refused('invalid_grant'));
    await assert.rejects(t.token(gateway, withActor('forged-svid')), refused('invalid_grant'));
    await assert.rejects(
      t.token(gateway, withActor('svid-of-gateway', ACCESS_TOKEN_TYPE)),
      refused('invalid_request'),
    );
  });

  it('accepts a subject act chain up to 7 actors deep (8 with the new actor), and refuses a deeper one', async () => {
    await using t = await tokenService();
    const exp = seconds(T0 + 10 * MIN);
    for (const depth of [8, 9]) {
      const deep = t.idp.mint({ sub: 'user:alice', exp, act: chain(depth) });
      await assert.rejects(t.token(gateway, exchange(deep)), refused('invalid_grant'));
    }
    for (const act of ['actor-1', { act: { sub: 'x' } }, { sub: 7 }]) {
      const bad = t.idp.mint({ sub: 'user:alice', exp, act });
      await assert.rejects(t.token(gateway, exchange(bad)), refused('invalid_grant'));
    }
    const deepest = t.idp.mint({ sub: 'user:alice', exp, act: chain(7) });
    const r = await t.token(gateway, exchange(deepest));
    const act = t.verify(r.access_token, 'orders').claims['act'];
    assert.deepEqual(act, { sub: GATEWAY, act: chain(7) });
  });

  it('introspects a token it minted from a subject with the deepest accepted act chain', async () => {
    await using t = await tokenService();
    const deepest = t.idp.mint({ sub: 'user:alice', exp: seconds(T0 + 10 * MIN), act: chain(7) });
    const r = await t.token(gateway, exchange(deepest));
    const info = await t.service.introspect(gateway, r.access_token);
    assert.equal(info['active'], true);
    assert.deepEqual(info['act'], { sub: GATEWAY, act: chain(7) });
  });

  it('refuses unknown subject and requested token types', async () => {
    await using t = await tokenService();
    const user = t.idp.mint({ sub: 'user:alice', exp: seconds(T0 + 10 * MIN) });
    await assert.rejects(
      t.token(
        gateway,
        exchange(user, { subjectTokenType: 'urn:ietf:params:oauth:token-type:saml2' }),
      ),
      refused('invalid_request'),
    );
    await assert.rejects(
      t.token(
        gateway,
        exchange(user, { requestedTokenType: 'urn:ietf:params:oauth:token-type:refresh_token' }),
      ),
      refused('invalid_request'),
    );
  });
});

describe('token service: introspection and revocation', () => {
  it('introspects an active token (RFC 7662 §2.2)', async () => {
    await using t = await tokenService();
    const r = await t.token(orders, clientCredentials(['payments'], ['payments:read']));
    const jti = t.verify(r.access_token).claims['jti'];
    assert.deepEqual(await t.service.introspect(billing, r.access_token), {
      active: true,
      iss: ISSUER,
      sub: ORDERS,
      aud: ['payments'],
      client_id: ORDERS,
      scope: 'payments:read',
      exp: seconds(T0 + 10 * MIN),
      iat: seconds(T0),
      jti,
      token_type: 'Bearer',
      cnf: { 'x5t#S256': X5T },
    });
  });

  it('introspects the act chain of an exchanged token', async () => {
    await using t = await tokenService();
    const user = t.idp.mint({ sub: 'user:alice', exp: seconds(T0 + 10 * MIN) });
    const r = await t.token(gateway, exchange(user));
    const info = await t.service.introspect(gateway, r.access_token);
    assert.equal(info['active'], true);
    assert.equal(info['sub'], 'user:alice');
    assert.deepEqual(info['act'], { sub: GATEWAY });
  });

  it('answers exactly {active: false} for garbage, foreign, expired and revoked tokens', async () => {
    await using t = await tokenService();
    const r = await t.token(orders, clientCredentials(['payments']));
    const user = t.idp.mint({ sub: 'user:alice', exp: seconds(T0 + 10 * MIN) });
    for (const token of ['', 'garbage', 'a.b.c', user, `${r.access_token}x`]) {
      assert.deepEqual(await t.service.introspect(orders, token), { active: false }, token);
    }
    t.clock.at = T0 + 10 * MIN;
    assert.deepEqual(await t.service.introspect(orders, r.access_token), { active: false });
    t.clock.at = T0;
    const revoked = await t.token(orders, clientCredentials(['payments']));
    assert.equal((await t.service.introspect(orders, revoked.access_token))['active'], true);
    await t.service.revoke(orders, revoked.access_token);
    assert.deepEqual(await t.service.introspect(orders, revoked.access_token), { active: false });
    assert.equal((await t.service.introspect(orders, r.access_token))['active'], true);
  });

  it('lets only the client a token was issued to revoke it', async () => {
    await using t = await tokenService();
    const r = await t.token(orders, clientCredentials(['payments']));
    await assert.rejects(t.service.revoke(billing, r.access_token), refused('unauthorized_client'));
    assert.equal((await t.service.introspect(orders, r.access_token))['active'], true);
    await t.service.revoke(orders, r.access_token);
    assert.deepEqual(await t.service.introspect(orders, r.access_token), { active: false });
    await t.service.revoke(orders, r.access_token);
  });

  it('revokes garbage, foreign and expired tokens without an error (RFC 7009 §2.2)', async () => {
    await using t = await tokenService();
    const r = await t.token(orders, clientCredentials(['payments']));
    const user = t.idp.mint({ sub: 'user:alice', exp: seconds(T0 + 10 * MIN) });
    for (const token of ['garbage', 'a.b.c', user]) {
      assert.equal(await t.service.revoke(orders, token), undefined);
    }
    t.clock.at = T0 + HOUR;
    assert.equal(await t.service.revoke(billing, r.access_token), undefined);
  });

  it('revokes an exchanged token by its client, not by the subject', async () => {
    await using t = await tokenService();
    const own = await t.token(orders, clientCredentials(['payments']));
    const r = await t.token(gateway, exchange(own.access_token, { audience: ['orders'] }));
    await assert.rejects(t.service.revoke(orders, r.access_token), refused('unauthorized_client'));
    await t.service.revoke(gateway, r.access_token);
    assert.deepEqual(await t.service.introspect(gateway, r.access_token), { active: false });
    assert.equal((await t.service.introspect(orders, own.access_token))['active'], true);
  });
});

describe('token service: audit', () => {
  it('keeps the chain intact under concurrent mints, refusals and revocations', async () => {
    await using t = await tokenService();
    const first = await Promise.all(
      Array.from({ length: 20 }, () => t.token(orders, clientCredentials(['payments']))),
    );
    await Promise.all([
      ...Array.from({ length: 20 }, () => t.token(billing, clientCredentials(['payments']))),
      ...Array.from({ length: 10 }, () =>
        t.token(billing, clientCredentials(['ledger'])).catch(() => undefined),
      ),
      ...first.map((r) => t.service.revoke(orders, r.access_token)),
    ]);
    const chain = await verifyAuditChain(t.db);
    assert.ok(chain.ok, chain.ok ? '' : chain.reason);
    assert.equal(chain.count, 70);
    const count = async (action: string) =>
      (await listAuditEvents(t.db, { module: 'tokens', action, limit: 1000 })).length;
    assert.equal(await count('token.mint'), 40);
    assert.equal(await count('token.refused'), 10);
    assert.equal(await count('token.revoke'), 20);
  });

  it('records a refused revocation', async () => {
    await using t = await tokenService();
    const r = await t.token(orders, clientCredentials(['payments']));
    await assert.rejects(t.service.revoke(billing, r.access_token));
    const actions = (await t.audit()).map((e) => e.action);
    assert.deepEqual(actions.slice(1), ['token.refused']);
  });

  it('records every mint, exchange, refusal and revocation in an intact chain, without tokens', async () => {
    await using t = await tokenService();
    const minted = await t.token(orders, clientCredentials(['payments'], ['payments:read']));
    const user = t.idp.mint({ sub: 'user:alice', exp: seconds(T0 + 10 * MIN) });
    const exchanged = await t.token(
      gateway,
      exchange(user, { actorToken: 'svid-of-gateway', actorTokenType: JWT_TOKEN_TYPE }),
    );
    await assert.rejects(t.token(orders, clientCredentials(['shipping'])));
    await assert.rejects(t.token(gateway, exchange(`${user}x`)));
    await t.service.revoke(orders, minted.access_token);
    await t.service.introspect(orders, minted.access_token);

    const chain = await verifyAuditChain(t.db);
    assert.ok(chain.ok, chain.ok ? '' : chain.reason);
    const events = await t.audit();
    assert.deepEqual(
      events.map((e) => e.action),
      ['token.mint', 'token.exchange', 'token.refused', 'token.refused', 'token.revoke'],
    );
    assert.equal(chain.count >= events.length, true);
    const detail = (e: AuditEvent | undefined) =>
      JSON.parse(e?.detail ?? '{}') as Record<string, unknown>;
    const [mint, exch, refusal, refusedExchange, revoke] = events;
    const mintedJti = t.verify(minted.access_token).claims['jti'];
    assert.equal(mint?.subject, ORDERS);
    assert.deepEqual(detail(mint), {
      jti: mintedJti,
      grant: 'client_credentials',
      audience: ['payments'],
      scope: ['payments:read'],
      expiresAt: T0 + 10 * MIN,
      rules: ['shop/orders-pay'],
      auth: 'tls_client_auth',
    });
    assert.equal(exch?.subject, GATEWAY);
    assert.equal(detail(exch)['jti'], t.verify(exchanged.access_token).claims['jti']);
    assert.equal(detail(exch)['sub'], 'user:alice');
    assert.equal(detail(exch)['subjectIssuer'], IDP);
    assert.equal(detail(refusal)['error'], 'invalid_target');
    assert.deepEqual(detail(refusal)['audience'], ['shipping']);
    assert.equal(detail(refusedExchange)['error'], 'invalid_grant');
    assert.equal(revoke?.subject, ORDERS);
    assert.deepEqual(detail(revoke), { jti: mintedJti });

    for (const e of events) {
      for (const secret of t.secrets) {
        for (const part of secret.split('.').filter((p) => p.length > 16)) {
          assert.equal(e.detail.includes(part), false, `${e.action} holds part of a token`);
        }
      }
      assert.equal(e.detail.includes('svid-of-gateway'), false, 'no actor token');
    }
  });
});

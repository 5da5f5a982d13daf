import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AssertionRules,
  type PresentedClient,
  type SvidCheck,
  authenticateClient,
} from './client-auth.js';
import { OAuthError } from './token-request.js';

const T0 = Date.UTC(2026, 10, 24);
const ORDERS = 'spiffe://example.org/orders';
const GATEWAY = 'spiffe://example.org/gateway';
const X5T = 'aGFzaC1vZi10aGUtY2VydGlmaWNhdGU';
const MAX_ASSERTION_MS = 15 * 60_000;

/** A stub JWT-SVID verifier: knows a few assertion strings, refuses the rest. */
function rules(known: Record<string, SvidCheck> = {}): AssertionRules & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    now: T0,
    maxAssertionLifetimeMs: MAX_ASSERTION_MS,
    verifyJwtSvid: (token) => {
      seen.push(token);
      return known[token] ?? { ok: false, reason: 'unknown kid' };
    },
  };
}

const svid = (spiffeId: string, expiresAt = T0 + 60_000): SvidCheck => ({
  ok: true,
  spiffeId,
  expiresAt,
});
const mtls = (spiffeId = ORDERS): NonNullable<PresentedClient['certificate']> => ({
  check: svid(spiffeId),
  x5tS256: X5T,
});
const basic = (userPass: string) => `Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`;

function refused(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof OAuthError, `an OAuthError, not ${String(e)}`);
    assert.equal(e.error, code, e.description);
    return true;
  };
}

describe('authenticateClient: tls_client_auth', () => {
  it('authenticates the X509-SVID of the connection and carries its thumbprint', () => {
    assert.deepEqual(authenticateClient({ certificate: mtls() }, rules()), {
      clientId: ORDERS,
      method: 'tls_client_auth',
      x5tS256: X5T,
    });
  });

  it('refuses a certificate that is not a valid X509-SVID', () => {
    assert.throws(
      () =>
        authenticateClient(
          { certificate: { check: { ok: false, reason: 'expired' }, x5tS256: X5T } },
          rules(),
        ),
      refused('invalid_client'),
    );
  });

  it('accepts client_id in the body when it is the SPIFFE ID, refuses it otherwise', () => {
    assert.equal(
      authenticateClient({ certificate: mtls(), clientId: ORDERS }, rules()).clientId,
      ORDERS,
    );
    assert.throws(
      () => authenticateClient({ certificate: mtls(), clientId: GATEWAY }, rules()),
      refused('invalid_client'),
    );
  });
});

describe('authenticateClient: private_key_jwt with a JWT-SVID', () => {
  it('authenticates a valid assertion: the client is its SPIFFE ID, tokens are not bound', () => {
    const r = rules({ 'good.jwt.svid': svid(ORDERS, T0 + MAX_ASSERTION_MS) });
    assert.deepEqual(authenticateClient({ assertion: 'good.jwt.svid' }, r), {
      clientId: ORDERS,
      method: 'private_key_jwt',
    });
    assert.deepEqual(r.seen, ['good.jwt.svid']);
  });

  it('prefers the assertion over the certificate', () => {
    const r = rules({ 'gw.jwt.svid': svid(GATEWAY) });
    const c = authenticateClient({ assertion: 'gw.jwt.svid', certificate: mtls(ORDERS) }, r);
    assert.equal(c.clientId, GATEWAY);
    assert.equal(c.method, 'private_key_jwt');
    assert.equal(c.x5tS256, undefined);
  });

  it('refuses an assertion the verifier refuses, without a fallback to the certificate', () => {
    assert.throws(
      () => authenticateClient({ assertion: 'forged', certificate: mtls() }, rules()),
      refused('invalid_client'),
    );
  });

  it('refuses an assertion expiring later than maxAssertionLifetime ahead', () => {
    const r = rules({ long: svid(ORDERS, T0 + MAX_ASSERTION_MS + 1) });
    assert.throws(() => authenticateClient({ assertion: 'long' }, r), refused('invalid_client'));
  });

  it('refuses a client_id (body or Basic) that is not the assertion subject', () => {
    const r = rules({ a: svid(ORDERS) });
    assert.throws(
      () => authenticateClient({ assertion: 'a', clientId: GATEWAY }, r),
      refused('invalid_client'),
    );
    assert.throws(
      () => authenticateClient({ assertion: 'a', authorization: basic(`${GATEWAY}:`) }, r),
      refused('invalid_client'),
    );
    assert.equal(authenticateClient({ assertion: 'a', clientId: ORDERS }, r).clientId, ORDERS);
  });
});

describe('authenticateClient: HTTP Basic client id (RFC 6749 §2.3.1)', () => {
  it('reads a form-urlencoded SPIFFE ID with an empty password, with mTLS', () => {
    const c = authenticateClient(
      { authorization: basic('spiffe%3A%2F%2Fexample.org%2Forders:'), certificate: mtls() },
      rules(),
    );
    assert.deepEqual(c, { clientId: ORDERS, method: 'tls_client_auth', x5tS256: X5T });
  });

  it('decodes "+" as a space', () => {
    const spaced = 'spiffe://example.org/my orders';
    assert.equal(
      authenticateClient(
        {
          authorization: basic('spiffe%3A%2F%2Fexample.org%2Fmy+orders:'),
          certificate: mtls(spaced),
        },
        rules(),
      ).clientId,
      spaced,
    );
    // "+" decodes to a space, so it does not match a SPIFFE ID spelled with "+".
    assert.throws(
      () =>
        authenticateClient(
          { authorization: basic('spiffe%3A%2F%2Fexample.org%2Fmy+orders:'), certificate: mtls() },
          rules(),
        ),
      refused('invalid_client'),
    );
  });

  it('accepts the scheme name in any case (RFC 7235 §2.1)', () => {
    const header = basic('spiffe%3A%2F%2Fexample.org%2Forders:').replace('Basic', 'bAsIc');
    assert.equal(
      authenticateClient({ authorization: header, certificate: mtls() }, rules()).clientId,
      ORDERS,
    );
  });

  it('refuses a Basic id that is not the certificate SPIFFE ID', () => {
    assert.throws(
      () =>
        authenticateClient(
          { authorization: basic('spiffe%3A%2F%2Fexample.org%2Fgateway:'), certificate: mtls() },
          rules(),
        ),
      refused('invalid_client'),
    );
  });

  it('refuses a non-empty client secret, even with a valid certificate', () => {
    for (const userPass of [
      'spiffe%3A%2F%2Fexample.org%2Forders:secret',
      'spiffe%3A%2F%2Fexample.org%2Forders:+',
      // Not form-encoded: the first ":" ends the id, the rest is a "secret".
      'spiffe://example.org/orders:',
    ]) {
      assert.throws(
        () => authenticateClient({ authorization: basic(userPass), certificate: mtls() }, rules()),
        refused('invalid_client'),
        userPass,
      );
    }
  });

  it('refuses malformed Basic credentials', () => {
    for (const header of [
      basic('no-colon-at-all'),
      basic(':'),
      basic(':empty-id'),
      basic('spiffe%3A%2F%2Fexample.org%2F%E0:'),
      'Basic',
      'Basic ',
      'Basic !!!!',
      'Basic  c3BpZmZlOg==',
      `${basic('spiffe%3A%2F%2Fexample.org%2Forders:')} extra`,
    ]) {
      assert.throws(
        () => authenticateClient({ authorization: header, certificate: mtls() }, rules()),
        refused('invalid_client'),
        header,
      );
    }
  });

  it('refuses another authentication scheme', () => {
    for (const header of ['Bearer abc.def.ghi', 'Digest username="x"', 'Negotiate abc']) {
      assert.throws(
        () => authenticateClient({ authorization: header, certificate: mtls() }, rules()),
        refused('invalid_client'),
        header,
      );
    }
  });

  it('refuses a body client_id that differs from the Basic id as invalid_request', () => {
    assert.throws(
      () =>
        authenticateClient(
          {
            authorization: basic('spiffe%3A%2F%2Fexample.org%2Forders:'),
            clientId: GATEWAY,
            certificate: mtls(),
          },
          rules(),
        ),
      refused('invalid_request'),
    );
    assert.equal(
      authenticateClient(
        {
          authorization: basic('spiffe%3A%2F%2Fexample.org%2Forders:'),
          clientId: ORDERS,
          certificate: mtls(),
        },
        rules(),
      ).clientId,
      ORDERS,
    );
  });
});

describe('authenticateClient: no credential', () => {
  it('refuses a request that presents nothing, or only a client id', () => {
    for (const presented of [
      {},
      { clientId: ORDERS },
      { authorization: basic('spiffe%3A%2F%2Fexample.org%2Forders:') },
    ]) {
      assert.throws(
        () => authenticateClient(presented, rules()),
        refused('invalid_client'),
        JSON.stringify(presented),
      );
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  JWT_BEARER_ASSERTION,
  MAX_TOKEN_REQUEST_BYTES,
  OAuthError,
  TOKEN_EXCHANGE,
  bodyClientAuth,
  parseForm,
  parseTokenRequest,
} from './token-request.js';

const FORM = 'application/x-www-form-urlencoded';
const form = (fields: Record<string, string | string[]>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const x of [v].flat()) p.append(k, x);
  return p.toString();
};
const refused = (code: string) => (e: unknown) => e instanceof OAuthError && e.error === code;

describe('parseTokenRequest', () => {
  it('reads client credentials with a JWT-SVID assertion, scopes and audiences', () => {
    const r = parseTokenRequest(
      `${FORM}; charset=UTF-8`,
      form({
        grant_type: 'client_credentials',
        scope: 'payments:write payments:read payments:write',
        audience: ['payments', 'ledger'],
        client_assertion_type: JWT_BEARER_ASSERTION,
        client_assertion: 'a.b.c',
        unknown_extension: 'ignored',
      }),
    );
    assert.deepEqual(r, {
      grantType: 'client_credentials',
      scope: ['payments:write', 'payments:read'],
      audience: ['payments', 'ledger'],
      client: { assertion: 'a.b.c' },
    });
  });

  it('reads a token exchange with an actor', () => {
    const r = parseTokenRequest(
      FORM,
      form({
        grant_type: TOKEN_EXCHANGE,
        subject_token: 'user.jwt.sig',
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        actor_token: 'svid.jwt.sig',
        actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        resource: 'https://payments.example.org',
        client_id: 'spiffe://example.org/gateway',
      }),
    );
    assert.equal(r.grantType, 'token-exchange');
    assert.deepEqual(r.audience, ['https://payments.example.org']);
    assert.deepEqual(r.client, { clientId: 'spiffe://example.org/gateway' });
  });

  it("refuses what RFC 6749 and RFC 8693 forbid, with the RFC's error code", () => {
    const cases: [string | undefined, string, string][] = [
      ['application/json', '{}', 'invalid_request'],
      [undefined, 'grant_type=client_credentials', 'invalid_request'],
      [FORM, '', 'invalid_request'],
      [FORM, 'grant_type=password&username=a&password=b', 'unsupported_grant_type'],
      [FORM, 'grant_type=client_credentials&grant_type=client_credentials', 'invalid_request'],
      [FORM, 'grant_type=client_credentials&scope=a&scope=b', 'invalid_request'],
      [FORM, 'grant_type=client_credentials&scope=a%22b', 'invalid_scope'],
      [FORM, 'grant_type=client_credentials&scope=a%20%20b', 'invalid_scope'],
      [FORM, `grant_type=client_credentials&client_assertion=x`, 'invalid_request'],
      [
        FORM,
        `grant_type=client_credentials&client_assertion=x&client_assertion_type=saml`,
        'invalid_client',
      ],
      [FORM, `grant_type=${encodeURIComponent(TOKEN_EXCHANGE)}&subject_token=x`, 'invalid_request'],
      [FORM, `grant_type=client_credentials&${'audience=a&'.repeat(17)}`, 'invalid_target'],
      [FORM, `grant_type=client_credentials&x=${'a'.repeat(70_000)}`, 'invalid_request'],
    ];
    for (const [type, body, code] of cases) {
      assert.throws(() => parseTokenRequest(type, body), refused(code), `${body.slice(0, 60)}`);
    }
  });
});

describe('parseForm', () => {
  it('allows audience and resource repeated, in order', () => {
    const params = parseForm(FORM, 'audience=a&resource=r1&audience=b&resource=r2&x=1');
    assert.deepEqual(params.get('audience'), ['a', 'b']);
    assert.deepEqual(params.get('resource'), ['r1', 'r2']);
    assert.deepEqual(params.get('x'), ['1']);
  });

  it('refuses any other parameter given twice (RFC 6749 §3.2)', () => {
    for (const key of [
      'grant_type',
      'client_id',
      'client_assertion',
      'client_assertion_type',
      'subject_token',
      'actor_token',
      'token',
      'unknown_extension',
    ]) {
      assert.throws(() => parseForm(FORM, `${key}=a&${key}=b`), refused('invalid_request'), key);
    }
  });

  it('treats an empty value as absent (RFC 6749 §3.1), so it is no duplicate', () => {
    const params = parseForm(FORM, 'client_id=&client_id=x&scope=');
    assert.deepEqual(params.get('client_id'), ['x']);
    assert.equal(params.has('scope'), false);
  });

  it('decodes form encoding: "+" is a space, percent escapes are UTF-8', () => {
    const params = parseForm(FORM, 'scope=a+b&client_id=spiffe%3A%2F%2Fexample.org%2F%C3%A9');
    assert.deepEqual(params.get('scope'), ['a b']);
    assert.deepEqual(params.get('client_id'), ['spiffe://example.org/é']);
  });

  it('takes the media type case-insensitively, with parameters', () => {
    for (const type of [
      FORM,
      'Application/X-WWW-Form-URLEncoded',
      `${FORM}; charset=UTF-8`,
      `${FORM};charset=utf-8`,
    ]) {
      assert.deepEqual(parseForm(type, 'a=1').get('a'), ['1'], type);
    }
  });

  it('refuses any other content type', () => {
    for (const type of [
      undefined,
      '',
      'application/json',
      'text/plain',
      'multipart/form-data; boundary=x',
      `${FORM}x`,
      `x${FORM}`,
    ]) {
      assert.throws(() => parseForm(type, 'a=1'), refused('invalid_request'), String(type));
    }
  });

  it('reads a body of exactly the limit and refuses one byte more, counted in UTF-8', () => {
    const head = 'x=';
    const exact = head + 'a'.repeat(MAX_TOKEN_REQUEST_BYTES - head.length);
    assert.equal(parseForm(FORM, exact).get('x')?.[0]?.length, MAX_TOKEN_REQUEST_BYTES - 2);
    assert.throws(() => parseForm(FORM, `${exact}a`), refused('invalid_request'));
    // Fewer characters than the limit, more bytes: "é" is two bytes.
    const wide = head + 'é'.repeat(MAX_TOKEN_REQUEST_BYTES / 2);
    assert.ok(wide.length < MAX_TOKEN_REQUEST_BYTES + 2);
    assert.throws(() => parseForm(FORM, wide), refused('invalid_request'));
  });
});

describe('bodyClientAuth', () => {
  const params = (body: string) => parseForm(FORM, body);
  const type = encodeURIComponent(JWT_BEARER_ASSERTION);

  it('reads client_id and a JWT-bearer client_assertion', () => {
    assert.deepEqual(bodyClientAuth(params('')), {});
    assert.deepEqual(bodyClientAuth(params('client_id=c')), { clientId: 'c' });
    assert.deepEqual(
      bodyClientAuth(params(`client_id=c&client_assertion_type=${type}&client_assertion=a.b.c`)),
      { clientId: 'c', assertion: 'a.b.c' },
    );
  });

  it('refuses an assertion type without an assertion, and an assertion without its type', () => {
    assert.throws(
      () => bodyClientAuth(params(`client_assertion_type=${type}`)),
      refused('invalid_request'),
    );
    assert.throws(
      () => bodyClientAuth(params(`client_assertion_type=${type}&client_assertion=`)),
      refused('invalid_request'),
    );
    assert.throws(
      () => bodyClientAuth(params('client_assertion=a.b.c')),
      refused('invalid_request'),
    );
  });

  it('refuses another assertion type as invalid_client', () => {
    const saml = encodeURIComponent('urn:ietf:params:oauth:client-assertion-type:saml2-bearer');
    assert.throws(
      () => bodyClientAuth(params(`client_assertion_type=${saml}&client_assertion=x`)),
      refused('invalid_client'),
    );
  });
});

describe('parseTokenRequest: audiences', () => {
  it('joins audience and resource values, at most 16 in all', () => {
    const r = parseTokenRequest(
      FORM,
      form({ grant_type: 'client_credentials', audience: ['a', 'b'], resource: ['r1', 'r2'] }),
    );
    assert.deepEqual(r.audience, ['a', 'b', 'r1', 'r2']);
    const sixteen = form({
      grant_type: 'client_credentials',
      audience: Array.from({ length: 8 }, (_, i) => `a${i}`),
      resource: Array.from({ length: 8 }, (_, i) => `r${i}`),
    });
    assert.equal(parseTokenRequest(FORM, sixteen).audience.length, 16);
    assert.throws(
      () => parseTokenRequest(FORM, `${sixteen}&resource=one-more`),
      refused('invalid_target'),
    );
  });

  it('refuses an actor token without its type', () => {
    assert.throws(
      () =>
        parseTokenRequest(
          FORM,
          form({
            grant_type: TOKEN_EXCHANGE,
            subject_token: 's',
            subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
            actor_token: 'a',
          }),
        ),
      refused('invalid_request'),
    );
  });
});

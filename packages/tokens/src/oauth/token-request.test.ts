import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  JWT_BEARER_ASSERTION,
  OAuthError,
  TOKEN_EXCHANGE,
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

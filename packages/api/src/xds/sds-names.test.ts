import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  jwtSvidSecretAudience,
  jwtSvidSecretName,
  oauthTokenSecretName,
  oauthTokenSecretRequest,
} from './sds-names.js';

describe('token SDS names', () => {
  it('round-trips a JWT-SVID audience, and refuses what is no audience', () => {
    const name = jwtSvidSecretName('spiffe://example.org/payment');
    assert.equal(name, 'parley:jwt-svid:spiffe://example.org/payment');
    assert.equal(jwtSvidSecretAudience(name), 'spiffe://example.org/payment');
    for (const bad of ['parley:jwt-svid:', 'parley:jwt-svid:a b', 'default', 'parley:oauth:x']) {
      assert.equal(jwtSvidSecretAudience(bad), undefined, bad);
    }
  });

  it('round-trips an access token request: audience and scopes', () => {
    const name = oauthTokenSecretName('https://payments.example/api', ['a:read', 'b']);
    assert.equal(name, 'parley:oauth:https://payments.example/api?scope=a:read b');
    assert.deepEqual(oauthTokenSecretRequest(name), {
      audience: 'https://payments.example/api',
      scopes: ['a:read', 'b'],
    });
    assert.deepEqual(oauthTokenSecretRequest(oauthTokenSecretName('payments', [])), {
      audience: 'payments',
      scopes: [],
    });
    for (const bad of [
      'parley:oauth:',
      'parley:oauth:a?b',
      'parley:oauth:a?scope=',
      'parley:oauth:a?scope=x  y',
      'parley:oauth:a?scope=x"y',
      'parley:jwt-svid:a',
    ]) {
      assert.equal(oauthTokenSecretRequest(bad), undefined, bad);
    }
  });
});

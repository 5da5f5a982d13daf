import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authorizationServerMetadata } from './server-metadata.js';

describe('authorizationServerMetadata', () => {
  it('names the issuer exactly and puts every endpoint under it (RFC 8414 §2, §3.3)', () => {
    const m = authorizationServerMetadata('https://localhost:8443', ['ES256']);
    assert.equal(m.issuer, 'https://localhost:8443');
    for (const endpoint of [
      m.token_endpoint,
      m.jwks_uri,
      m.introspection_endpoint,
      m.revocation_endpoint,
    ]) {
      assert.ok(endpoint.startsWith('https://localhost:8443/oauth2/'), endpoint);
    }
    assert.ok(m.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:token-exchange'));
    assert.equal(m.tls_client_certificate_bound_access_tokens, true);
  });
});

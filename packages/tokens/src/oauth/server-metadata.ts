import { JWT_BEARER_ASSERTION, TOKEN_EXCHANGE } from './token-request.js';

/**
 * The RFC 8414 authorization server metadata of an issuer (also served as OpenID discovery):
 * endpoints under the issuer URL, the grants and client authentication methods Parley accepts,
 * and RFC 8705's certificate-bound tokens.
 */
export function authorizationServerMetadata(issuer: string, algorithms: readonly string[]) {
  const url = (path: string) => `${issuer.replace(/\/$/, '')}${path}`;
  return {
    issuer,
    token_endpoint: url('/oauth2/token'),
    jwks_uri: url('/oauth2/jwks'),
    introspection_endpoint: url('/oauth2/introspect'),
    revocation_endpoint: url('/oauth2/revoke'),
    grant_types_supported: ['client_credentials', TOKEN_EXCHANGE],
    token_endpoint_auth_methods_supported: ['tls_client_auth', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['ES256', 'ES384', 'RS256', 'PS256'],
    introspection_endpoint_auth_methods_supported: ['tls_client_auth', 'private_key_jwt'],
    revocation_endpoint_auth_methods_supported: ['tls_client_auth', 'private_key_jwt'],
    client_assertion_types_supported: [JWT_BEARER_ASSERTION],
    tls_client_certificate_bound_access_tokens: true,
    response_types_supported: [],
    scopes_supported: [],
    access_token_signing_alg_values_supported: [...algorithms],
  };
}

/** The tokens module: an OAuth 2.0 authorization server for SPIFFE-authenticated workloads. */
export {
  type PrivateKeyStore,
  type PublishedJwk,
  type SigningAlgorithm,
  type SigningKey,
  type SigningKeySchedule,
  TokenSigningKeys,
  jwkThumbprint,
  planSigningKeys,
  publishedJwk,
} from './keys/signing-keys.js';
export {
  type AccessTokenClaims,
  type AccessTokenResult,
  type Actor,
  type MintedAccessToken,
  MAX_ACCESS_TOKEN_LENGTH,
  mintAccessToken,
  verifyAccessToken,
} from './jwt/access-token.js';
export { type VerificationJwk, type JwtResult, verifyJwt } from './jwt/jws.js';
export * from './oauth/token-request.js';
export { authorizationServerMetadata } from './oauth/server-metadata.js';
export * from './oauth/client-auth.js';
export * from './oauth/token-service.js';
export { type JwksLocation, JwksIssuer, parseJwks } from './oauth/jwks-source.js';
export * from './policy/decide-token-grant.js';
export { type PeerCertificate, JWKS_MAX_AGE_S, createTokensApi } from './http/tokens-api.js';

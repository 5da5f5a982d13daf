/** The secrets module: encrypted versioned store, access policy, rotation, Vault KV v2 HTTP API. */
export { type KeyEncryptionKey, Keyring } from './crypto/keyring.js';
export { dataKeyAad, newDataKey, openValue, sealValue, valueAad } from './crypto/envelope.js';
export * from './kv/index.js';
export * from './policy/index.js';
export { createPostgresRotator } from './database/index.js';
export {
  type SecretsHttpListener,
  listenSecretsHttp,
  peerCertificateChain,
} from './http/secrets-listener.js';
export { readJsonBody } from './http/read-json-body.js';
export { acceptListMethod } from './http/list-method.js';
export {
  type Authentication,
  type IssuedToken,
  type SecretsAdmin,
  type SecretsApiDeps,
  type SecretsAuth,
  type SecretsTransport,
  createSecretsApi,
} from './api/secrets-api.js';
export { TokenService } from './auth/token-service.js';
export { type RotatableDatabase, createSecretsAdmin, rotationJson } from './admin/secrets-admin.js';

/** SPIFFE primitives and the foundations every Parley package shares. */
export {
  type ErrorCode,
  ERROR_CODES,
  ParleyError,
  invalidArgument,
  isParleyError,
} from './errors.js';
export { type Clock, systemClock, fixedClock } from './clock.js';
export { type Task, runTasks, sleep } from './task.js';
export { type Duration, parseDuration, durationMs, formatDuration } from './config/duration.js';
export { type ConfigProblem, ConfigError, ObjectReader, readConfig } from './config/fields.js';
export {
  type JsonValue,
  type JsonObject,
  type JsonLimits,
  JsonNumber,
  parseJson,
  isJsonArray,
  isJsonObject,
} from './json/parse-json.js';
export { type PemBlock, encodePem, decodePem, decodePemBlocks } from './pem/pem.js';
export { TrustDomain, parseTrustDomain, MAX_TRUST_DOMAIN_BYTES } from './spiffe-id/trust-domain.js';
export {
  SpiffeId,
  parseSpiffeId,
  spiffeIdFromSegments,
  MAX_SPIFFE_ID_BYTES,
} from './spiffe-id/spiffe-id.js';
export {
  type KeyType,
  KEY_TYPES,
  type Signer,
  keyObjectSigner,
  keyTypeOf,
  generateKey,
  hashOf,
  parsePrivateKey,
} from './crypto/signer.js';
export {
  type Certificate,
  type Extension,
  KeyUsage,
  parseCertificate,
  certificatePublicKey,
} from './x509-svid/certificate.js';
export {
  type ProfileResult,
  certificateSpiffeId,
  checkLeafProfile,
  signingCertificateProblem,
} from './x509-svid/profile.js';
export {
  type X509Authority,
  type X509SvidRequest,
  type MintedCertificate,
  X509Minter,
  mintSelfSignedRoot,
  BACKDATE_MS,
} from './x509-svid/mint.js';
export {
  type X509Svid,
  type X509SvidResult,
  verifyX509Svid,
  MAX_CHAIN_LENGTH,
} from './x509-svid/verify.js';
export {
  type JwsAlgorithm,
  isJwsAlgorithm,
  ecdsaDerToJose,
  keyAlgorithmProblem,
  verifyJwsSignature,
} from './jwt-svid/algorithms.js';
export { decodeBase64Url, encodeBase64Url } from './jwt-svid/base64url.js';
export {
  type JwtAuthority,
  type JwtSvidRequest,
  type MintedJwtSvid,
  JwtSvidMinter,
} from './jwt-svid/mint.js';
export {
  type JwtSvid,
  type JwtSvidResult,
  verifyJwtSvid,
  MAX_JWT_SVID_LENGTH,
} from './jwt-svid/verify.js';
export {
  type Bundle,
  type BundleSource,
  bundleSet,
  parseBundle,
  bundleFromJson,
  formatBundle,
  MAX_BUNDLE_BYTES,
} from './bundle/bundle.js';
export { parseBundleMap, formatBundleMap } from './bundle/bundle-map.js';
export {
  type CertificateRequest,
  parseCertificateRequest,
  verifyCertificateRequest,
  mintCertificateRequest,
  MAX_CSR_BYTES,
} from './x509-svid/csr.js';
export { spkiOf } from './crypto/spki.js';
export {
  type Selector,
  parseSelector,
  checkSelector,
  checkEntrySelector,
  formatSelector,
  parseSocketName,
  MAX_SELECTOR_VALUE_LENGTH,
  PARLEY_SELECTOR_TYPE,
  SOCKET_SELECTOR_PREFIX,
} from './selector.js';
export { checkDnsName } from './x509-svid/dns-name.js';

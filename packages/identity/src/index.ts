/** The identity server module: CA and key rotation, entries, node attestation, the agent API. */
export {
  Ca,
  CA_KEY_TYPES,
  DEFAULT_CA_TTL,
  DEFAULT_REFRESH_HINT,
  DEFAULT_CHECK_INTERVAL,
  type CaConfig,
  type CaDeps,
  type CaEvent,
  type CaChange,
  type AuthorityResult,
  type AuthorityRecordOf,
  type X509SvidParams,
  type X509CaParams,
  type JwtSvidParams,
  type MintedX509,
} from './ca/ca.js';
export { type AuthorityJournal, MemoryAuthorityJournal } from './ca/authority-journal.js';
export { FileAuthorityJournal } from './ca/file-authority-journal.js';
export * from './ca/authority-record.js';
export {
  type AuthorityRefusal,
  type AuthoritySlots,
  describeRefusal,
} from './ca/authority-lifecycle.js';
export { rotationSchedule, planRotation, maxSvidTtl } from './ca/rotation-policy.js';
export { assembleBundle } from './ca/assemble-bundle.js';
export {
  type UpstreamAuthority,
  type UpstreamAuthorityFiles,
  loadUpstreamAuthority,
} from './ca/upstream-authority.js';
export * from './key-manager/key-manager.js';
export * from './key-manager/memory-key-manager.js';
export * from './key-manager/disk-key-manager.js';
export * from './key-manager/key-managers.js';
export * from './entries/registration-entry.js';
export * from './node-attestation/node-attestor.js';
export * from './node-attestation/join-token.js';
export * from './node-attestation/x509pop.js';
export * from './agent-api/authorized-entries.js';
export * from './agent-api/agent-api-service.js';
export * from './agent-api/tls-credentials.js';
export * from './admin-api/index.js';

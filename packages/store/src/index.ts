/** The datastore: one schema, versioned migrations, one query layer over SQLite and PostgreSQL. */
export type {
  Database,
  Engine,
  Queryable,
  SqlRow,
  SqlValue,
  Transaction,
  TransactionOptions,
} from './database.js';
export { type StoreConfig, parseStoreConfig } from './store-config.js';
export { openStore } from './open-store.js';
export { redactUrl } from './redact-url.js';
export {
  type AuditDetailValue,
  type AuditEvent,
  type NewAuditEvent,
  GENESIS_HASH,
  hashAuditEvent,
} from './audit/audit-event.js';
export { appendAudit } from './audit/append-audit.js';
export { type AuditChainVerdict, verifyAuditChain } from './audit/verify-audit-chain.js';
export { acquireLease } from './lease/acquire-lease.js';
export { releaseLease } from './lease/release-lease.js';
export { SCHEMA_VERSION } from './migrate/migrations.js';
export {
  type Selector,
  type SelectorFilter,
  type SelectorMatch,
  MAX_FILTER_SELECTORS,
} from './identity/selector.js';
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './identity/page-token.js';
export type {
  NewRegistrationEntry,
  RegistrationEntry,
  RegistrationEntryFields,
  RegistrationEntryInput,
} from './identity/entry/registration-entry.js';
export type { EntryFilter } from './identity/entry/entry-filter.js';
export { createEntry } from './identity/entry/create-entry.js';
export { getEntry } from './identity/entry/get-entry.js';
export { getEntries } from './identity/entry/get-entries.js';
export { type UpdateEntryOptions, updateEntry } from './identity/entry/update-entry.js';
export { deleteEntry } from './identity/entry/delete-entry.js';
export {
  type EntryPage,
  type ListEntriesRequest,
  listEntries,
} from './identity/entry/list-entries.js';
export { listEntriesByParents } from './identity/entry/list-entries-by-parents.js';
export { countEntries } from './identity/entry/count-entries.js';
export {
  type EntryChanges,
  listEntryEventsSince,
} from './identity/entry/list-entry-events-since.js';
export { pruneEntryEvents } from './identity/entry/prune-entry-events.js';
export type { AttestedAgent } from './identity/agent/attested-agent.js';
export type { AgentFilter } from './identity/agent/agent-filter.js';
export { type NewAttestedAgent, createAgent } from './identity/agent/create-agent.js';
export { getAgent } from './identity/agent/get-agent.js';
export {
  type AgentSerials,
  type UpdateAgentSerialsOptions,
  updateAgentSerials,
} from './identity/agent/update-agent-serials.js';
export { setAgentSelectors } from './identity/agent/set-agent-selectors.js';
export { banAgent } from './identity/agent/ban-agent.js';
export { deleteAgent } from './identity/agent/delete-agent.js';
export {
  type AgentPage,
  type ListAgentsRequest,
  listAgents,
} from './identity/agent/list-agents.js';
export { countAgents } from './identity/agent/count-agents.js';
export { type JoinTokenRecord, hashJoinToken } from './identity/join-token/join-token.js';
export { type NewJoinToken, createJoinToken } from './identity/join-token/create-join-token.js';
export {
  type JoinTokenOutcome,
  consumeJoinToken,
} from './identity/join-token/consume-join-token.js';
export { pruneJoinTokens } from './identity/join-token/prune-join-tokens.js';
export { type SetBundleResult, setBundle } from './identity/bundle/set-bundle.js';
export { getBundle } from './identity/bundle/get-bundle.js';
export { listBundles } from './identity/bundle/list-bundles.js';
export { deleteBundle } from './identity/bundle/delete-bundle.js';
export {
  type AuthorityKind,
  type AuthorityStatus,
  type CaAuthority,
  AUTHORITY_TRANSITIONS,
} from './identity/authority/ca-authority.js';
export { type NewCaAuthority, saveAuthority } from './identity/authority/save-authority.js';
export { getAuthority } from './identity/authority/get-authority.js';
export { listAuthorities } from './identity/authority/list-authorities.js';
export { setAuthorityStatus } from './identity/authority/set-authority-status.js';
export {
  type AuditEventQuery,
  MAX_AUDIT_EVENTS_PER_QUERY,
  listAuditEvents,
} from './audit/list-audit-events.js';
export { appendAuditEvents } from './audit/append-audit.js';
export { AuditBatcher } from './audit/audit-batcher.js';
export * from './secrets/secret-rows.js';
export * from './secrets/secret-tokens.js';
export * from './secrets/secret-policies.js';
export * from './tokens/oauth-rows.js';

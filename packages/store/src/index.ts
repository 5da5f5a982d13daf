/** The datastore: one schema, versioned migrations, one query layer over SQLite and PostgreSQL. */
export type { Database, Engine, Queryable, SqlRow, SqlValue, Transaction } from './database.js';
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

import type { Transaction } from '../database.js';
import type { AuditEvent, NewAuditEvent } from './audit-event.js';
import { GENESIS_HASH, hashAuditEvent } from './audit-event.js';

/** Serializes appenders, so that two replicas never both extend the same last event. */
const AUDIT_LOCK = 'parley.audit_events';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkText(field: string, value: string): void {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`audit event ${field} must be a non-empty string`);
  }
  // Both would be altered on the way into the database, and the stored event would not verify.
  if (value.includes('\0') || LONE_SURROGATE.test(value)) {
    throw new TypeError(`audit event ${field} must be valid Unicode text without NUL`);
  }
}

/**
 * Appends an event to the audit chain inside `tx`, the transaction of the change it records:
 * takes the chain's lock, links the event to the last one and returns it as stored.
 */
export async function appendAudit(tx: Transaction, event: NewAuditEvent): Promise<AuditEvent> {
  if (tx.inTransaction !== true) throw new TypeError('appendAudit must run inside a transaction');
  if (!Number.isSafeInteger(event.at) || event.at < 0) {
    throw new RangeError('audit event at must be a non-negative integer of milliseconds');
  }
  checkText('module', event.module);
  checkText('action', event.action);
  checkText('subject', event.subject);
  const detail = JSON.stringify(event.detail);

  await tx.lock(AUDIT_LOCK);
  const [last] = await tx.query<{ seq: number; hash: string }>(
    'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1',
  );
  const fields = {
    seq: (last?.seq ?? 0) + 1,
    at: event.at,
    module: event.module,
    action: event.action,
    subject: event.subject,
    detail,
    prevHash: last?.hash ?? GENESIS_HASH,
  };
  const stored: AuditEvent = Object.freeze({ ...fields, hash: hashAuditEvent(fields) });
  await tx.execute(
    `INSERT INTO audit_events (seq, at, module, action, subject, detail, prev_hash, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      stored.seq,
      stored.at,
      stored.module,
      stored.action,
      stored.subject,
      stored.detail,
      stored.prevHash,
      stored.hash,
    ],
  );
  return stored;
}

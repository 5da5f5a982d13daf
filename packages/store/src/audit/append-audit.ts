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

function checkEvent(event: NewAuditEvent): string {
  if (!Number.isSafeInteger(event.at) || event.at < 0) {
    throw new RangeError('audit event at must be a non-negative integer of milliseconds');
  }
  checkText('module', event.module);
  checkText('action', event.action);
  checkText('subject', event.subject);
  return JSON.stringify(event.detail);
}

/**
 * Appends an event to the audit chain inside `tx`, the transaction of the change it records:
 * takes the chain's lock, links the event to the last one and returns it as stored.
 */
export async function appendAudit(tx: Transaction, event: NewAuditEvent): Promise<AuditEvent> {
  const [stored] = await appendAuditEvents(tx, [event]);
  return stored as AuditEvent;
}

/**
 * Appends events in order inside `tx` with one lock and one read of the chain's end (a group
 * commit of many requests' records); returns them as stored.
 */
export async function appendAuditEvents(
  tx: Transaction,
  events: readonly NewAuditEvent[],
): Promise<AuditEvent[]> {
  if (tx.inTransaction !== true) throw new TypeError('appendAudit must run inside a transaction');
  const details = events.map(checkEvent);
  if (events.length === 0) return [];
  await tx.lock(AUDIT_LOCK);
  const [last] = await tx.query<{ seq: number; hash: string }>(
    'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1',
  );
  let seq = last?.seq ?? 0;
  let prevHash = last?.hash ?? GENESIS_HASH;
  const out: AuditEvent[] = [];
  for (const [i, event] of events.entries()) {
    seq += 1;
    const fields = {
      seq,
      at: event.at,
      module: event.module,
      action: event.action,
      subject: event.subject,
      detail: details[i] as string,
      prevHash,
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
    prevHash = stored.hash;
    out.push(stored);
  }
  return out;
}

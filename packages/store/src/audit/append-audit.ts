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

/** Rows per INSERT: powers of two down from this, so few distinct statements are prepared. */
const MAX_ROWS_PER_INSERT = 64;
const COLUMNS = 8;

function insertSql(rows: number): string {
  const values = Array.from({ length: rows }, (_, r) => {
    const p = Array.from({ length: COLUMNS }, (_, c) => `$${r * COLUMNS + c + 1}`);
    return `(${p.join(', ')})`;
  });
  return `INSERT INTO audit_events (seq, at, module, action, subject, detail, prev_hash, hash)
    VALUES ${values.join(', ')}`;
}

/**
 * Appends events in order inside `tx` with one lock, one read of the chain's end and a few
 * multi-row inserts (a group commit of many requests' records); returns them as stored.
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
    prevHash = stored.hash;
    out.push(stored);
  }
  for (let done = 0; done < out.length;) {
    let rows = MAX_ROWS_PER_INSERT;
    while (rows > out.length - done) rows /= 2;
    const params = out
      .slice(done, done + rows)
      .flatMap((e) => [e.seq, e.at, e.module, e.action, e.subject, e.detail, e.prevHash, e.hash]);
    await tx.execute(insertSql(rows), params);
    done += rows;
  }
  return out;
}

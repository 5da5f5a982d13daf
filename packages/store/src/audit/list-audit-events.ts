import type { Queryable, SqlValue } from '../database.js';
import type { AuditEvent } from './audit-event.js';

/** The most events one `listAuditEvents` call returns. */
export const MAX_AUDIT_EVENTS_PER_QUERY = 10_000;

/** Which audit events to read: every filter given must hold. */
export interface AuditEventQuery {
  /** The recording module, e.g. `authz`. */
  readonly module?: string;
  /** What happened, e.g. `decision`. */
  readonly action?: string;
  /** Who or what it happened to (for authz decisions: the request ID). */
  readonly subject?: string;
  /** Only events at or after this time (milliseconds since the epoch). */
  readonly sinceMs?: number;
  /** Only events after this seq: the cursor of an ascending read. */
  readonly afterSeq?: number;
  /** Only events before this seq: the cursor of a descending read. */
  readonly beforeSeq?: number;
  /**
   * Only events whose detail (its JSON text) contains this exact, case-sensitive substring: a
   * cheap prefilter, blind to JSON structure, so callers check what they read.
   */
  readonly detailContains?: string;
  /** At most this many events, 1 … MAX_AUDIT_EVENTS_PER_QUERY. */
  readonly limit: number;
  /** By seq: `asc` (oldest first, the default) or `desc` (newest first). */
  readonly order?: 'asc' | 'desc';
}

interface AuditRow {
  readonly seq: number;
  readonly at: number;
  readonly module: string;
  readonly action: string;
  readonly subject: string;
  readonly detail: string;
  readonly prev_hash: string;
  readonly hash: string;
}

function checkText(field: string, value: string | undefined): void {
  if (value === undefined) return;
  // PostgreSQL text cannot hold NUL: such a filter could only fail there, and matches nothing.
  if (typeof value !== 'string' || value === '' || value.includes('\0')) {
    throw new TypeError(`audit query ${field} must be a non-empty string without NUL`);
  }
}

function checkInteger(field: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`audit query ${field} must be an integer between ${min} and ${max}`);
  }
}

/**
 * Reads events of the audit chain in seq order (append order), filtered by module, action,
 * subject, time, seq cursor and a detail substring; SQLite and PostgreSQL alike. Served by the
 * `(module, action, seq|at|subject)` indexes of migration 4 when module and action are given.
 */
export async function listAuditEvents(
  db: Queryable,
  query: AuditEventQuery,
): Promise<AuditEvent[]> {
  checkText('module', query.module);
  checkText('action', query.action);
  checkText('subject', query.subject);
  checkText('detailContains', query.detailContains);
  checkInteger('limit', query.limit, 1, MAX_AUDIT_EVENTS_PER_QUERY);
  checkInteger('sinceMs', query.sinceMs, 0, Number.MAX_SAFE_INTEGER);
  checkInteger('afterSeq', query.afterSeq, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  checkInteger('beforeSeq', query.beforeSeq, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const order = query.order ?? 'asc';
  if (order !== 'asc' && order !== 'desc')
    throw new TypeError('audit query order must be asc or desc');

  const values: SqlValue[] = [];
  const param = (value: SqlValue): string => {
    values.push(value);
    return `$${values.length}`;
  };
  const conditions: string[] = [];
  if (query.module !== undefined) conditions.push(`module = ${param(query.module)}`);
  if (query.action !== undefined) conditions.push(`action = ${param(query.action)}`);
  if (query.subject !== undefined) conditions.push(`subject = ${param(query.subject)}`);
  if (query.sinceMs !== undefined) {
    // With a subject, its index is by far the most selective; `+at` keeps SQLite's planner (which
    // has no statistics) from choosing the time range instead.
    const at = query.subject === undefined ? 'at' : '+at';
    conditions.push(`${at} >= ${param(query.sinceMs)}`);
  }
  if (query.afterSeq !== undefined) conditions.push(`seq > ${param(query.afterSeq)}`);
  if (query.beforeSeq !== undefined) conditions.push(`seq < ${param(query.beforeSeq)}`);
  if (query.detailContains !== undefined) {
    // Both are exact, case-sensitive substring searches (LIKE is neither, portably).
    const find = db.engine === 'sqlite' ? 'instr' : 'strpos';
    conditions.push(`${find}(detail, ${param(query.detailContains)}) > 0`);
  }
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  const rows = await db.query<AuditRow>(
    `SELECT seq, at, module, action, subject, detail, prev_hash, hash FROM audit_events ${where}
     ORDER BY seq ${order === 'asc' ? 'ASC' : 'DESC'} LIMIT ${param(query.limit)}`,
    values,
  );
  return rows.map((row) =>
    Object.freeze({
      seq: Number(row.seq),
      at: Number(row.at),
      module: row.module,
      action: row.action,
      subject: row.subject,
      detail: row.detail,
      prevHash: row.prev_hash,
      hash: row.hash,
    }),
  );
}

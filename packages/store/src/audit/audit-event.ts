import { createHash } from 'node:crypto';

/** A JSON value that an audit event's detail may hold. */
export type AuditDetailValue =
  | string
  | number
  | boolean
  | null
  | readonly AuditDetailValue[]
  | { readonly [key: string]: AuditDetailValue };

/** What a module records: when, which module, what it did, to whom, and the particulars. */
export interface NewAuditEvent {
  /** Milliseconds since the epoch, from the caller's clock. */
  readonly at: number;
  /** The recording module, e.g. `identity`. */
  readonly module: string;
  /** What happened, e.g. `svid.mint`. */
  readonly action: string;
  /** Who or what it happened to, e.g. a SPIFFE ID. */
  readonly subject: string;
  /** Particulars; never secrets (log a key ID or a hash instead). */
  readonly detail: { readonly [key: string]: AuditDetailValue };
}

/** A row of the audit chain as stored: `detail` is its JSON text, `hash` covers all the rest. */
export interface AuditEvent {
  readonly seq: number;
  readonly at: number;
  readonly module: string;
  readonly action: string;
  readonly subject: string;
  readonly detail: string;
  readonly prevHash: string;
  readonly hash: string;
}

/** The `prevHash` of the first event: 64 hex zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * The hash of an audit event: lowercase hex SHA-256 of the UTF-8 of the JSON array
 * `[seq, at, module, action, subject, detail, prevHash]` (JSON.stringify, so every string is
 * quoted and escaped and the encoding is unambiguous).
 */
export function hashAuditEvent(event: Omit<AuditEvent, 'hash'>): string {
  const canonical = JSON.stringify([
    event.seq,
    event.at,
    event.module,
    event.action,
    event.subject,
    event.detail,
    event.prevHash,
  ]);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

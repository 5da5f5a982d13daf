import type { Queryable } from '../database.js';
import { GENESIS_HASH, hashAuditEvent } from './audit-event.js';

/** The outcome of checking the audit chain: intact with `count` events, or the first bad `seq`. */
export type AuditChainVerdict =
  | { readonly ok: true; readonly count: number }
  | { readonly ok: false; readonly seq: number; readonly reason: string };

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

const PAGE = 1000;

/**
 * Checks the whole audit chain, a page at a time: seqs run 1, 2, 3, … without gaps, each event
 * names the previous event's hash, and each hash matches its event. Removing events from the end
 * leaves a valid (shorter) chain: compare `count` with a figure kept elsewhere to detect that.
 */
export async function verifyAuditChain(db: Queryable): Promise<AuditChainVerdict> {
  let expected = 1;
  let prevHash = GENESIS_HASH;
  // Starting below 1 lets a forged event with seq ≤ 0 show up as out of sequence.
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const rows = await db.query<AuditRow>(
      `SELECT seq, at, module, action, subject, detail, prev_hash, hash FROM audit_events
       WHERE seq > $1 ORDER BY seq LIMIT ${PAGE}`,
      [after],
    );
    for (const row of rows) {
      if (row.seq !== expected) {
        return {
          ok: false,
          seq: expected,
          reason: `event ${expected} is missing (found ${row.seq})`,
        };
      }
      if (row.prev_hash !== prevHash) {
        return { ok: false, seq: row.seq, reason: 'prev_hash is not the hash of the event before' };
      }
      const hash = hashAuditEvent({ ...row, prevHash: row.prev_hash });
      if (hash !== row.hash) {
        return {
          ok: false,
          seq: row.seq,
          reason: 'hash does not match the event (it was altered)',
        };
      }
      prevHash = row.hash;
      after = row.seq;
      expected++;
    }
    if (rows.length < PAGE) return { ok: true, count: expected - 1 };
  }
}

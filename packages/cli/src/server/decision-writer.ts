import type { DecisionRecord } from '@parley/authz';
import { sleep } from '@parley/core';
import { type AuditDetailValue, type Database, appendAudit } from '@parley/store';
import type { Log } from '../log.js';

/** Records waiting beyond which new ones are dropped (and counted): memory stays bounded. */
const MAX_PENDING = 50_000;
/** Records per transaction. */
const BATCH = 1_000;
const FLUSH_MS = 100;

/**
 * Appends decision records to the audit chain (module `authz`, action `decision`, subject the
 * request ID) in batches, one transaction per batch, off the request path.
 */
export class DecisionWriter {
  #pending: DecisionRecord[] = [];

  constructor(
    private readonly db: Database,
    private readonly hooks: {
      readonly onWritten: (records: readonly DecisionRecord[]) => void;
      readonly onDropped: (count: number) => void;
      readonly log: Log;
    },
  ) {}

  /** Queues records; drops what does not fit. */
  add(records: readonly DecisionRecord[]): void {
    const room = MAX_PENDING - this.#pending.length;
    if (records.length > room) this.hooks.onDropped(records.length - Math.max(room, 0));
    if (room > 0) this.#pending.push(...records.slice(0, room));
  }

  /** Writes what is queued now. */
  async flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.slice(0, BATCH);
      await this.db.transaction(async (tx) => {
        for (const r of batch) {
          await appendAudit(tx, {
            at: r.at,
            module: 'authz',
            action: 'decision',
            subject: r.requestId,
            detail: r as unknown as { readonly [key: string]: AuditDetailValue },
          });
        }
      });
      this.#pending = this.#pending.slice(batch.length);
      this.hooks.onWritten(batch);
    }
  }

  /** Flushes every FLUSH_MS until `signal` aborts, then once more. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleep(FLUSH_MS, signal).catch(() => undefined);
      try {
        await this.flush();
      } catch (err) {
        this.hooks.log.error('decision log write failed; retrying', { error: err });
      }
    }
    await this.flush().catch(() => undefined);
  }
}

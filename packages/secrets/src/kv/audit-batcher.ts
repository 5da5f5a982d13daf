import { ParleyError } from '@parley/core';
import {
  type Database,
  type NewAuditEvent,
  appendAuditEvents,
  recordSecretReads,
} from '@parley/store';

/** A read to remember for rotation: which workload read which version. */
export interface ConsumerRead {
  readonly mount: string;
  readonly path: string;
  readonly version: number;
  readonly spiffeId: string;
  readonly at: number;
}

interface Pending {
  readonly event: NewAuditEvent;
  readonly read: ConsumerRead | undefined;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** The most records one transaction takes. */
const MAX_BATCH = 512;

/**
 * The group commit of records that change nothing else (reads, denials, refused writes): each
 * request queues its audit event (and the version it read) and gets an answer only once the
 * transaction holding its batch has committed; if that transaction fails, every request in it
 * fails — no audit record, no answer (Vault's rule). One transaction is in flight at a time; what
 * arrives meanwhile forms the next batch, so throughput grows with concurrency.
 */
export class AuditBatcher {
  #queue: Pending[] = [];
  #flushing = false;

  constructor(private readonly db: Database) {}

  /** Resolves once `event` (and `read`) are committed; rejects when they could not be. */
  record(event: NewAuditEvent, read?: ConsumerRead): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ event, read, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        // After the I/O of this turn of the event loop: every request already read joins the
        // batch (a synchronous commit would otherwise take them one at a time).
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, MAX_BATCH);
        try {
          await this.db.transaction(
            async (tx) => {
              await appendAuditEvents(
                tx,
                batch.map((p) => p.event),
              );
              // One row per (secret, version, workload): the latest read of each in this batch.
              const reads = new Map<string, ConsumerRead>();
              for (const p of batch) {
                if (p.read !== undefined) {
                  const r = p.read;
                  reads.set(`${r.mount}\n${r.path}\n${r.version}\n${r.spiffeId}`, r);
                }
              }
              await recordSecretReads(tx, [...reads.values()]);
            },
            { durability: 'relaxed' },
          );
          for (const p of batch) p.resolve();
        } catch (err) {
          const failure = new ParleyError('internal', 'the audit record could not be written', {
            cause: err,
          });
          for (const p of batch) p.reject(failure);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }
}

import { ParleyError } from '@parley/core';
import {
  type Database,
  type NewAuditEvent,
  type SecretRead,
  appendAuditEvents,
  recordSecretReads,
} from '@parley/store';

interface Pending {
  readonly event: NewAuditEvent;
  readonly read: SecretRead | undefined;
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
  record(event: NewAuditEvent, read?: SecretRead): Promise<void> {
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
              await recordSecretReads(
                tx,
                batch.flatMap((p) => (p.read === undefined ? [] : [p.read])),
              );
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

import { ParleyError } from '@parley/core';
import type { Database, Transaction } from '../database.js';
import { appendAuditEvents } from './append-audit.js';
import type { NewAuditEvent } from './audit-event.js';

interface Pending<T> {
  readonly event: NewAuditEvent;
  readonly item: T | undefined;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** The most records one transaction takes. */
const MAX_BATCH = 512;

/**
 * The group commit of audit records whose requests change nothing else (reads, denials, token
 * mints): each request queues its event — and optionally an item that `alsoWrite` stores in the
 * same transaction — and gets its answer only once the transaction holding its batch has
 * committed; if that transaction fails, every request in it fails: no audit record, no answer.
 * One transaction is in flight at a time; what arrives meanwhile forms the next batch, so
 * throughput grows with concurrency. Commits are `relaxed` (they survive a crash of the process,
 * not necessarily of the machine).
 */
export class AuditBatcher<T = never> {
  #queue: Pending<T>[] = [];
  #flushing = false;

  constructor(
    private readonly db: Database,
    private readonly alsoWrite?: (tx: Transaction, items: T[]) => Promise<void>,
  ) {}

  /** Resolves once `event` (and `item`) are committed; rejects when they could not be. */
  record(event: NewAuditEvent, item?: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ event, item, resolve, reject });
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
              if (this.alsoWrite !== undefined) {
                await this.alsoWrite(
                  tx,
                  batch.flatMap((p) => (p.item === undefined ? [] : [p.item])),
                );
              }
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

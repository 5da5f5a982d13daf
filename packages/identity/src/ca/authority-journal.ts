import { ParleyError } from '@parley/core';
import type { AuthorityKind, AuthorityRecord } from './authority-record.js';

/**
 * Where the CA keeps its authorities across restarts (and, through the store, across replicas):
 * the consumer-owned seam the store implements. `save` inserts or replaces the record with the
 * same kind and id; records are never deleted by the CA. A store may drop a `revoked` or `retired`
 * record once it has expired and another record has a higher sequence (the bundle's sequence is
 * the highest record sequence and must never go down).
 */
export interface AuthorityJournal {
  load(): Promise<readonly AuthorityRecord[]>;
  save(record: AuthorityRecord): Promise<void>;
}

function keyOf(kind: AuthorityKind, id: string): string {
  return `${kind}:${id}`;
}

/** An AuthorityJournal in memory, for tests and `parley up`; `failSaves` injects write failures. */
export class MemoryAuthorityJournal implements AuthorityJournal {
  readonly #records = new Map<string, AuthorityRecord>();
  #failures = 0;

  /** Every record, in the order first saved. */
  async load(): Promise<readonly AuthorityRecord[]> {
    return [...this.#records.values()];
  }

  /** Inserts or replaces the record (kind, id). */
  async save(record: AuthorityRecord): Promise<void> {
    if (this.#failures > 0) {
      this.#failures--;
      throw new ParleyError('unavailable', 'authority journal write failed (injected fault)');
    }
    this.#records.set(keyOf(record.kind, record.id), record);
  }

  /** Makes the next `count` saves fail. */
  failSaves(count: number): void {
    this.#failures = count;
  }
}

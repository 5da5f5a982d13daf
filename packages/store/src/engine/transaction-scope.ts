import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Tracks which code runs inside a database's own transaction, so that calling the database
 * (instead of the `tx` handle) from there fails at once instead of deadlocking: SQLite has one
 * connection, and a second PostgreSQL connection would wait on the transaction's own locks.
 */
export class TransactionScope {
  readonly #storage = new AsyncLocalStorage<true>();

  /** Runs `fn` marked as inside this database's transaction. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.#storage.run(true, fn);
  }

  /** Throws a TypeError when called from inside this database's transaction. */
  assertOutside(what: string): void {
    if (this.#storage.getStore() === true) {
      throw new TypeError(`${what} called inside a transaction of the same database: use its tx`);
    }
  }
}

/** The engines a store runs on. */
export type Engine = 'sqlite' | 'postgres';

/**
 * A value bound to a `$n` placeholder: only types both engines store the same way (no booleans,
 * no dates: times are integer milliseconds since the epoch).
 */
export type SqlValue = string | number | bigint | Uint8Array | null;

/** A row as returned by a query: column name → value (BIGINT → number, BLOB/BYTEA → Buffer). */
export type SqlRow = Record<string, unknown>;

/**
 * What both a database and a transaction can run. SQL is written once, in the portable subset of
 * SQLite and PostgreSQL, with `$1, $2, …` placeholders.
 */
export interface Queryable {
  readonly engine: Engine;
  /** Runs a statement and returns its rows (`[]` for a statement that returns none). */
  query<Row extends object = SqlRow>(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  /** Runs a statement and returns the number of rows it inserted, updated or deleted. */
  execute(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

/**
 * A handle on an open transaction, valid only until the function given to `transaction` settles.
 * Statements see the latest committed data (PostgreSQL runs transactions at READ COMMITTED), so a
 * read-modify-write that must not interleave with another writer takes `lock` first.
 */
export interface Transaction extends Queryable {
  /**
   * Holds an exclusive lock named `name` until the transaction ends: `pg_advisory_xact_lock` on
   * PostgreSQL; on SQLite a no-op, since `BEGIN IMMEDIATE` already excludes every other writer.
   */
  lock(name: string): Promise<void>;
  /** Brands transactions so that functions requiring one cannot be handed a bare database. */
  readonly inTransaction: true;
}

/** How a transaction is made durable. */
export interface TransactionOptions {
  /**
   * `full` (the default): committed means on disk (SQLite fsyncs its log, PostgreSQL waits for
   * its WAL flush). `relaxed`: committed means handed to the operating system — it survives a
   * crash of the process (kill -9), not a power loss (SQLite `synchronous=NORMAL`, PostgreSQL
   * `synchronous_commit=off`); for records that change nothing else, written in batches, such as
   * the audit events of reads (as Vault's file audit device writes without an fsync per entry).
   * A later `full` commit makes every earlier one durable too.
   */
  readonly durability?: 'full' | 'relaxed';
}

/** An open store: one connection (SQLite) or a pool (PostgreSQL), migrated to the current schema. */
export interface Database extends Queryable {
  /**
   * Runs `fn` in a transaction: committed when it resolves, rolled back when it throws (the error
   * is rethrown). On PostgreSQL a serialization failure or deadlock re-runs `fn` a few times, so
   * `fn` must have no effects outside the database. Inside `fn`, use `tx`, never the database.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Waits for running statements and closes the connections; later calls fail. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

import { closeSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ParleyError } from '@parley/core';
import type { ErrorCode } from '@parley/core';
import BetterSqlite3 from 'better-sqlite3';
import type { Database, SqlRow, SqlValue, Transaction, TransactionOptions } from '../database.js';
import { statementError } from './statement-error.js';
import { TransactionScope } from './transaction-scope.js';

/** How long a statement waits for another connection's write lock before failing. */
const BUSY_TIMEOUT_MS = 10_000;
const STATEMENT_CACHE_SIZE = 256;

type Connection = BetterSqlite3.Database;
type Statement = BetterSqlite3.Statement<unknown[], SqlRow>;

/** The SQLite result code of a driver error, also when wrapped as a `cause`. */
function sqliteCode(error: unknown): string | undefined {
  if (error instanceof BetterSqlite3.SqliteError) return error.code;
  return error instanceof Error && error.cause !== undefined ? sqliteCode(error.cause) : undefined;
}

function isBusy(error: unknown): boolean {
  return sqliteCode(error)?.startsWith('SQLITE_BUSY') === true;
}

function errorCode(sqlite: string): ErrorCode {
  if (sqlite === 'SQLITE_CONSTRAINT_UNIQUE' || sqlite === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return 'already-exists';
  }
  if (sqlite.startsWith('SQLITE_CONSTRAINT')) return 'failed-precondition';
  if (/^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY)/.test(sqlite)) return 'unavailable';
  return 'internal';
}

/** Maps a driver error to a ParleyError; binding mistakes (TypeError, RangeError) pass through. */
function mapError(error: unknown, sql: string): Error {
  if (!(error instanceof BetterSqlite3.SqliteError)) {
    return error instanceof Error ? error : new Error(String(error));
  }
  const code = error.code;
  const reason = `${error.message} (${code})`;
  return statementError(errorCode(code), 'SQLite', sql, reason, error);
}

/**
 * Retries `run` while another connection holds the write lock. The wait is asynchronous (the
 * driver's own busy timeout is 0), so a second connection in the same process cannot block the
 * event loop that the lock holder needs to finish its transaction.
 */
async function whenNotBusy<T>(run: () => T): Promise<T> {
  const deadline = performance.now() + BUSY_TIMEOUT_MS;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    try {
      return run();
    } catch (error) {
      if (!isBusy(error) || performance.now() > deadline) throw error;
    }
    await sleep(delay * (0.5 + Math.random()));
  }
}

/** Creates the database file readable by its owner only (it holds encrypted key material). */
function createPrivateFile(path: string): void {
  if (path === ':memory:') return;
  closeSync(openSync(path, 'a', 0o600));
}

/**
 * Opens (creating if needed) the SQLite database at `path` in WAL mode with `synchronous=FULL`,
 * so that every acknowledged commit survives a crash of the process.
 */
export async function openSqlite(path: string): Promise<Database> {
  let connection: Connection;
  try {
    createPrivateFile(path);
    connection = new BetterSqlite3(path, { timeout: 0 });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ParleyError('unavailable', `cannot open SQLite database ${path}: ${reason}`, {
      cause: error,
    });
  }
  try {
    const mode = await whenNotBusy(() => connection.pragma('journal_mode = WAL', { simple: true }));
    if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, not wal`);
    connection.pragma('synchronous = FULL');
    connection.pragma('foreign_keys = ON');
  } catch (error) {
    connection.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new ParleyError('unavailable', `cannot set up SQLite database ${path}: ${reason}`, {
      cause: error,
    });
  }
  return sqliteDatabase(connection);
}

function sqliteDatabase(connection: Connection): Database {
  const statements = new Map<string, Statement>();
  const scope = new TransactionScope();
  let closed = false;
  // One connection: statements outside a transaction queue behind any open transaction.
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn);
    queue = run.catch(() => {});
    return run;
  };

  const prepare = (sql: string): Statement => {
    let statement = statements.get(sql);
    if (statement === undefined) {
      if (statements.size >= STATEMENT_CACHE_SIZE) statements.clear();
      statement = connection.prepare<unknown[], SqlRow>(sql);
      statements.set(sql, statement);
    }
    return statement;
  };

  // SQLite reads `$1` as a parameter named "1": bind the array as { 1: params[0], … }.
  const run = (sql: string, params: readonly SqlValue[]): { rows: SqlRow[]; count: number } => {
    const named: Record<string, SqlValue> = {};
    params.forEach((value, i) => (named[i + 1] = value));
    try {
      const statement = prepare(sql);
      if (statement.reader) {
        const rows = statement.all(named);
        return { rows, count: rows.length };
      }
      return { rows: [], count: statement.run(named).changes };
    } catch (error) {
      throw mapError(error, sql);
    }
  };

  const assertUsable = (what: string) => {
    scope.assertOutside(what);
    if (closed) throw new ParleyError('failed-precondition', `${what} on a closed store`);
  };

  const outside = (sql: string, params: readonly SqlValue[]) => {
    assertUsable('query');
    return exclusive(() => whenNotBusy(() => run(sql, params)));
  };

  const sqlite: Database = {
    engine: 'sqlite',
    query: async <Row extends object>(sql: string, params: readonly SqlValue[] = []) =>
      (await outside(sql, params)).rows as Row[],
    execute: async (sql, params = []) => (await outside(sql, params)).count,

    transaction: async <T>(
      fn: (tx: Transaction) => Promise<T>,
      options: TransactionOptions = {},
    ): Promise<T> => {
      assertUsable('transaction');
      const relaxed = options.durability === 'relaxed';
      return exclusive(async () => {
        // Per connection and between transactions only: the next `full` commit fsyncs it all.
        if (relaxed) connection.pragma('synchronous = NORMAL');
        try {
          return await inTransaction(fn);
        } finally {
          if (relaxed) connection.pragma('synchronous = FULL');
        }
      });
    },

    close: async () => {
      scope.assertOutside('close');
      if (closed) return;
      closed = true;
      await exclusive(async () => connection.close());
    },
    [Symbol.asyncDispose]: () => sqlite.close(),
  };

  async function inTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    await whenNotBusy(() => run('BEGIN IMMEDIATE', []));
    let active = true;
    const check = () => {
      if (!active) {
        throw new ParleyError('failed-precondition', 'transaction used after it ended');
      }
    };
    const tx: Transaction = {
      engine: 'sqlite',
      inTransaction: true,
      query: async <Row extends object>(sql: string, params: readonly SqlValue[] = []) => {
        check();
        return run(sql, params).rows as Row[];
      },
      execute: async (sql, params = []) => {
        check();
        return run(sql, params).count;
      },
      lock: async () => check(),
    };
    try {
      const result = await scope.run(() => fn(tx));
      active = false;
      run('COMMIT', []);
      return result;
    } catch (error) {
      try {
        if (connection.inTransaction) connection.exec('ROLLBACK');
      } catch {
        // The original error says what went wrong; SQLite rolls back on close regardless.
      }
      throw error;
    } finally {
      active = false;
    }
  }
  return sqlite;
}

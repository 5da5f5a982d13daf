import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ParleyError } from '@parley/core';
import type { ErrorCode } from '@parley/core';
import pg from 'pg';
import type { CustomTypesConfig, PoolClient, QueryResult } from 'pg';
import type { Database, SqlRow, SqlValue, Transaction, TransactionOptions } from '../database.js';
import { redactUrl } from '../redact-url.js';
import { statementError } from './statement-error.js';
import { TransactionScope } from './transaction-scope.js';

const POOL_SIZE = 10;
const CONNECT_TIMEOUT_MS = 10_000;
/** Attempts of a transaction that keeps failing with a serialization failure or deadlock. */
const TRANSACTION_ATTEMPTS = 5;
const RETRYABLE = new Set(['40001', '40P01']);
const INT8_OID = 20;

// BIGINT comes back as a number, as it does from SQLite: Parley's BIGINT columns hold
// millisecond timestamps and sequence numbers, far below 2^53.
const parseInt8 = (text: string): number => Number(text);
const types: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? parseInt8
      : (pg.types.getTypeParser(oid, format) as (
          text: string,
        ) => unknown)) as CustomTypesConfig['getTypeParser'],
};

/** The SQLSTATE of a server error, looked up through `cause` chains of wrapping errors. */
function sqlState(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof pg.DatabaseError) return e.code;
  }
  return undefined;
}

function errorCode(state: string | undefined): ErrorCode {
  if (state === undefined) return 'unavailable'; // no SQLSTATE: the connection itself failed
  if (state === '23505') return 'already-exists';
  if (state.startsWith('23')) return 'failed-precondition';
  if (RETRYABLE.has(state) || /^(08|53|57)/.test(state)) return 'unavailable';
  return 'internal';
}

/** The advisory lock key of a name: the first 64 bits of its SHA-256, as a signed integer. */
function lockKey(name: string): string {
  const digest = createHash('sha256').update(name, 'utf8').digest();
  return digest.readBigInt64BE(0).toString();
}

/** The URL's password as written and decoded, to scrub from driver messages. */
function passwordForms(url: string): string[] {
  let password: string;
  try {
    password = new URL(url).password;
  } catch {
    return [];
  }
  let decoded = password;
  try {
    decoded = decodeURIComponent(password);
  } catch {
    // Not percent-encoded validly: the raw form is all there is.
  }
  return [...new Set([password, decoded])].filter((s) => s !== '');
}

/** A driver error's message; Node reports a failed multi-address connect as an AggregateError. */
function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.message === '') {
    return error.errors.map(messageOf).join('; ');
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return error.message !== '' ? error.message : typeof code === 'string' ? code : error.name;
  }
  return String(error);
}

function toPg(value: SqlValue): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  return value;
}

/**
 * Opens a pool of connections to the PostgreSQL database at `url` and checks that it answers.
 * Messages never contain the URL's password.
 */
export async function openPostgres(url: string): Promise<Database> {
  const where = redactUrl(url);
  const secrets = passwordForms(url);
  const scrub = (text: string) => secrets.reduce((t, s) => t.split(s).join('***'), text);
  const describe = (error: unknown) => scrub(messageOf(error));

  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'parley',
    types,
  });
  // An idle connection that breaks is dropped by the pool; the next checkout reconnects.
  pool.on('error', () => {});
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    await pool.end().catch(() => {});
    throw new ParleyError(
      'unavailable',
      `cannot connect to PostgreSQL at ${where}: ${describe(error)}`,
      { cause: error },
    );
  }

  const scope = new TransactionScope();
  let closed = false;

  const run = async (
    client: pg.Pool | PoolClient,
    sql: string,
    params: readonly SqlValue[],
  ): Promise<QueryResult<SqlRow>> => {
    try {
      return await client.query<SqlRow>(sql, params.map(toPg));
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) throw error; // misuse
      const state = sqlState(error);
      const reason =
        state === undefined
          ? `PostgreSQL at ${where} is unreachable: ${describe(error)}`
          : `${describe(error)} (SQLSTATE ${state})`;
      throw statementError(errorCode(state), 'PostgreSQL', sql, reason, error);
    }
  };

  const assertUsable = (what: string) => {
    scope.assertOutside(what);
    if (closed) throw new ParleyError('failed-precondition', `${what} on a closed store`);
  };

  const attempt = async <T>(
    fn: (tx: Transaction) => Promise<T>,
    options: TransactionOptions,
  ): Promise<T> => {
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw new ParleyError(
        'unavailable',
        `cannot connect to PostgreSQL at ${where}: ${describe(error)}`,
        { cause: error },
      );
    }
    // A connection that fails mid-transaction is destroyed on release, not reused.
    let broken: Error | undefined;
    const onError = (error: Error) => (broken = error);
    client.on('error', onError);
    let active = true;
    const check = () => {
      if (!active) throw new ParleyError('failed-precondition', 'transaction used after it ended');
    };
    const tx: Transaction = {
      engine: 'postgres',
      inTransaction: true,
      query: async <Row extends object>(sql: string, params: readonly SqlValue[] = []) => {
        check();
        return (await run(client, sql, params)).rows as Row[];
      },
      execute: async (sql, params = []) => {
        check();
        return (await run(client, sql, params)).rowCount ?? 0;
      },
      lock: async (name) => {
        check();
        await run(client, 'SELECT pg_advisory_xact_lock($1)', [lockKey(name)]);
      },
    };
    try {
      await run(client, 'BEGIN', []);
      if (options.durability === 'relaxed') {
        await run(client, 'SET LOCAL synchronous_commit = off', []);
      }
      const result = await scope.run(() => fn(tx));
      active = false;
      const commit = await run(client, 'COMMIT', []);
      // COMMIT of a transaction in which a statement failed (and was caught) rolls back.
      if (commit.command !== 'COMMIT') {
        throw new ParleyError(
          'failed-precondition',
          'PostgreSQL rolled the transaction back at COMMIT: a statement in it had failed',
        );
      }
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((e: unknown) => {
        broken ??= e instanceof Error ? e : new Error(String(e));
      });
      throw error;
    } finally {
      active = false;
      client.off('error', onError);
      client.release(broken);
    }
  };

  const postgres: Database = {
    engine: 'postgres',
    query: async <Row extends object>(sql: string, params: readonly SqlValue[] = []) => {
      assertUsable('query');
      return (await run(pool, sql, params)).rows as Row[];
    },
    execute: async (sql, params = []) => {
      assertUsable('execute');
      return (await run(pool, sql, params)).rowCount ?? 0;
    },
    transaction: async <T>(
      fn: (tx: Transaction) => Promise<T>,
      options: TransactionOptions = {},
    ): Promise<T> => {
      assertUsable('transaction');
      for (let n = 1; ; n++) {
        try {
          return await attempt(fn, options);
        } catch (error) {
          const state = sqlState(error);
          if (n >= TRANSACTION_ATTEMPTS || state === undefined || !RETRYABLE.has(state))
            throw error;
        }
        await sleep(10 * 2 ** n * (0.5 + Math.random()));
      }
    },
    close: async () => {
      scope.assertOutside('close');
      if (closed) return;
      closed = true;
      await pool.end();
    },
    [Symbol.asyncDispose]: () => postgres.close(),
  };
  return postgres;
}

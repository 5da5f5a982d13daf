import type { Engine } from '../database.js';

/**
 * The one place where the engines' SQL differs: column types, table options, the current time
 * and append-only enforcement, used by migration SQL templates.
 */
export interface Dialect {
  readonly engine: Engine;
  /** A 64-bit integer column (SQLite's INTEGER is 64-bit; `INTEGER PRIMARY KEY` is the rowid). */
  readonly bigint: string;
  readonly text: string;
  readonly blob: string;
  /** Appended after a CREATE TABLE's closing parenthesis (SQLite: STRICT, so types are enforced). */
  readonly tableOptions: string;
  /** An SQL expression: the database's current time in milliseconds since the epoch. */
  readonly nowMs: string;
  /** Statements that make `table` append-only: UPDATE, DELETE (and TRUNCATE) fail. */
  appendOnly(table: string): readonly string[];
}

/** The dialect of each engine. */
export const DIALECTS: Readonly<Record<Engine, Dialect>> = {
  sqlite: {
    engine: 'sqlite',
    bigint: 'INTEGER',
    text: 'TEXT',
    blob: 'BLOB',
    tableOptions: ' STRICT',
    nowMs: "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
    appendOnly: (table) =>
      ['UPDATE', 'DELETE'].map(
        (op) =>
          `CREATE TRIGGER ${table}_no_${op.toLowerCase()} BEFORE ${op} ON ${table} ` +
          `BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END`,
      ),
  },
  postgres: {
    engine: 'postgres',
    bigint: 'BIGINT',
    text: 'TEXT',
    blob: 'BYTEA',
    tableOptions: '',
    nowMs: 'CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)',
    appendOnly: (table) => [
      `CREATE OR REPLACE FUNCTION parley_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
       END $$`,
      `CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table} ` +
        'FOR EACH ROW EXECUTE FUNCTION parley_append_only()',
      `CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} ` +
        'FOR EACH STATEMENT EXECUTE FUNCTION parley_append_only()',
    ],
  },
};

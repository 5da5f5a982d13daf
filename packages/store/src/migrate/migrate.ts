import { ParleyError } from '@parley/core';
import type { Database, Transaction } from '../database.js';
import { DIALECTS } from './dialect.js';
import type { Migration } from './migrations.js';
import { MIGRATIONS } from './migrations.js';

/** Serializes migrations across replicas that start at once. */
const MIGRATION_LOCK = 'parley.schema_migrations';

interface AppliedRow {
  readonly id: number;
  readonly name: string;
}

/** Fails unless the applied migrations are exactly a prefix of `known`. */
function checkApplied(applied: readonly AppliedRow[], known: readonly Migration[]): void {
  const newest = applied.at(-1)?.id ?? 0;
  const latest = known.at(-1)?.id ?? 0;
  if (newest > latest) {
    throw new ParleyError(
      'failed-precondition',
      `database schema version ${newest} is newer than this build of Parley knows ` +
        `(${latest}): refusing to open it; upgrade Parley`,
    );
  }
  applied.forEach((row, i) => {
    const migration = known[i];
    if (migration?.id !== row.id || migration.name !== row.name) {
      throw new ParleyError(
        'failed-precondition',
        `database schema does not match this build: it has migration ${row.id} (${row.name}) ` +
          `where this build has ${migration === undefined ? 'none' : `${migration.id} (${migration.name})`}`,
      );
    }
  });
}

/** Applies the next pending migration in `tx` and returns it, or undefined when none is pending. */
async function applyNext(
  tx: Transaction,
  known: readonly Migration[],
): Promise<Migration | undefined> {
  const d = DIALECTS[tx.engine];
  await tx.lock(MIGRATION_LOCK);
  await tx.execute(
    `CREATE TABLE IF NOT EXISTS schema_migrations (
      id ${d.bigint} PRIMARY KEY,
      name ${d.text} NOT NULL,
      applied_at ${d.bigint} NOT NULL
    )${d.tableOptions}`,
  );
  const applied = await tx.query<{ id: number; name: string }>(
    'SELECT id, name FROM schema_migrations ORDER BY id',
  );
  checkApplied(applied, known);
  const next = known[applied.length];
  if (next === undefined) return undefined;
  try {
    for (const statement of next.up(d)) await tx.execute(statement);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const code = error instanceof ParleyError ? error.code : 'internal';
    throw new ParleyError(code, `migration ${next.id} (${next.name}) failed: ${reason}`, {
      cause: error,
    });
  }
  await tx.execute(
    `INSERT INTO schema_migrations (id, name, applied_at) VALUES ($1, $2, ${d.nowMs})`,
    [next.id, next.name],
  );
  return next;
}

/**
 * Brings the database's schema up to date, each migration in its own transaction under a lock, and
 * returns the schema version. Refuses a database whose schema is newer than `known`.
 */
export async function migrate(
  db: Database,
  known: readonly Migration[] = MIGRATIONS,
): Promise<number> {
  for (;;) {
    const applied = await db.transaction((tx) => applyNext(tx, known));
    if (applied === undefined) return known.at(-1)?.id ?? 0;
  }
}

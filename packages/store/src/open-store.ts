import type { Database } from './database.js';
import { openPostgres } from './engine/postgres.js';
import { openSqlite } from './engine/sqlite.js';
import { migrate } from './migrate/migrate.js';
import type { StoreConfig } from './store-config.js';
import { parseStoreConfig } from './store-config.js';

/**
 * Opens the store `config` names (validated strictly first) and migrates its schema to this
 * build's version; fails if the schema is newer than this build knows.
 */
export async function openStore(config: StoreConfig): Promise<Database> {
  const valid = parseStoreConfig(config);
  const db =
    'sqlite' in valid
      ? await openSqlite(valid.sqlite.path)
      : await openPostgres(valid.postgres.url);
  try {
    await migrate(db);
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
  return db;
}

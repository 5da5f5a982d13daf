import type { Queryable } from '../database.js';

/** Gives up the lease `name` if `holder` holds it; resolves to whether it did. */
export async function releaseLease(db: Queryable, name: string, holder: string): Promise<boolean> {
  return (
    (await db.execute('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder])) === 1
  );
}

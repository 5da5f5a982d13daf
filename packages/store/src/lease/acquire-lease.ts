import type { Queryable } from '../database.js';

/**
 * Takes or renews the lease `name` for `holder` until `now + ttlMs`, atomically: succeeds when the
 * lease is free, expired (`expires_at <= now`) or already `holder`'s. Resolves to whether
 * `holder` now holds it. A duty that must run once across replicas runs only while this is true.
 */
export async function acquireLease(
  db: Queryable,
  name: string,
  holder: string,
  ttlMs: number,
  now: number,
): Promise<boolean> {
  if (name === '' || holder === '') throw new TypeError('lease name and holder must not be empty');
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new RangeError('lease ttlMs must be a positive integer');
  }
  if (!Number.isSafeInteger(now) || !Number.isSafeInteger(now + ttlMs)) {
    throw new RangeError('lease now must be an integer of milliseconds since the epoch');
  }
  const changed = await db.execute(
    `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
     WHERE leases.holder = excluded.holder OR leases.expires_at <= $4`,
    [name, holder, now + ttlMs, now],
  );
  return changed === 1;
}

import type { Queryable, Transaction } from '../database.js';

/** A secret as stored: its metadata, staging and its wrapped data key (never a value). */
export interface StoredSecret {
  readonly mount: string;
  readonly path: string;
  readonly currentVersion: number;
  readonly oldestVersion: number;
  readonly maxVersions: number;
  readonly casRequired: boolean;
  readonly deleteVersionAfterMs: number;
  /** JSON text of a string → string map. */
  readonly customMetadata: string;
  readonly kekId: string;
  readonly wrappedDataKey: Buffer;
  /** The version kept readable through a rotation's grace period, and until when. */
  readonly previousVersion: number | undefined;
  readonly previousValidUntil: number | undefined;
  /** When a rotation staged its next version (pending), until it becomes current. */
  readonly pendingSince: number | undefined;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** One version of a secret as stored: its state and sealed value (undefined once destroyed). */
export interface StoredSecretVersion {
  readonly version: number;
  readonly createdAt: number;
  readonly deletionTime: number | undefined;
  readonly destroyed: boolean;
  readonly sealedValue: Buffer | undefined;
}

const SECRET_COLUMNS = `mount, path, current_version, oldest_version, max_versions, cas_required,
  delete_version_after_ms, custom_metadata, kek_id, wrapped_data_key, previous_version,
  previous_valid_until, pending_since, created_at, updated_at`;

type Row = Record<string, unknown>;

const num = (v: unknown): number => Number(v);
const optNum = (v: unknown): number | undefined =>
  v === null || v === undefined ? undefined : Number(v);
const buf = (v: unknown): Buffer => Buffer.from(v as Uint8Array);

function secretOf(r: Row): StoredSecret {
  return {
    mount: r['mount'] as string,
    path: r['path'] as string,
    currentVersion: num(r['current_version']),
    oldestVersion: num(r['oldest_version']),
    maxVersions: num(r['max_versions']),
    casRequired: num(r['cas_required']) === 1,
    deleteVersionAfterMs: num(r['delete_version_after_ms']),
    customMetadata: r['custom_metadata'] as string,
    kekId: r['kek_id'] as string,
    wrappedDataKey: buf(r['wrapped_data_key']),
    previousVersion: optNum(r['previous_version']),
    previousValidUntil: optNum(r['previous_valid_until']),
    pendingSince: optNum(r['pending_since']),
    createdAt: num(r['created_at']),
    updatedAt: num(r['updated_at']),
  };
}

function versionOf(r: Row, prefix = ''): StoredSecretVersion {
  const sealed = r[`${prefix}sealed_value`];
  return {
    version: num(r[`${prefix}version`]),
    createdAt: num(r[`${prefix}created_at`]),
    deletionTime: optNum(r[`${prefix}deletion_time`]),
    destroyed: num(r[`${prefix}destroyed`]) === 1,
    sealedValue: sealed === null || sealed === undefined ? undefined : buf(sealed),
  };
}

/** A secret's row, or undefined. */
export async function getSecret(
  db: Queryable,
  mount: string,
  path: string,
): Promise<StoredSecret | undefined> {
  const [row] = await db.query(
    `SELECT ${SECRET_COLUMNS} FROM secrets WHERE mount = $1 AND path = $2`,
    [mount, path],
  );
  return row === undefined ? undefined : secretOf(row);
}

/**
 * A secret and one of its versions in one statement (the read path): `version` 0 means the
 * current one. The version is undefined when it does not exist (or was pruned).
 */
export async function getSecretVersion(
  db: Queryable,
  mount: string,
  path: string,
  version: number,
): Promise<{ secret: StoredSecret; version: StoredSecretVersion | undefined } | undefined> {
  const [row] = await db.query(
    `SELECT s.mount, s.path, s.current_version, s.oldest_version, s.max_versions, s.cas_required,
       s.delete_version_after_ms, s.custom_metadata, s.kek_id, s.wrapped_data_key,
       s.previous_version, s.previous_valid_until, s.pending_since, s.created_at, s.updated_at,
       v.version AS v_version, v.created_at AS v_created_at, v.deletion_time AS v_deletion_time,
       v.destroyed AS v_destroyed, v.sealed_value AS v_sealed_value
     FROM secrets s LEFT JOIN secret_versions v ON v.mount = s.mount AND v.path = s.path
       AND v.version = CASE WHEN $3 = 0 THEN s.current_version ELSE $3 END
     WHERE s.mount = $1 AND s.path = $2`,
    [mount, path, version],
  );
  if (row === undefined) return undefined;
  return {
    secret: secretOf(row),
    version: row['v_version'] === null ? undefined : versionOf(row, 'v_'),
  };
}

/** Every stored version of a secret, oldest first. */
export async function listSecretVersions(
  db: Queryable,
  mount: string,
  path: string,
): Promise<StoredSecretVersion[]> {
  const rows = await db.query(
    `SELECT version, created_at, deletion_time, destroyed, sealed_value FROM secret_versions
     WHERE mount = $1 AND path = $2 ORDER BY version`,
    [mount, path],
  );
  return rows.map((r) => versionOf(r));
}

/** A secret's columns in SECRET_COLUMNS order, as statement parameters. */
function secretParams(s: StoredSecret) {
  return [
    s.mount,
    s.path,
    s.currentVersion,
    s.oldestVersion,
    s.maxVersions,
    s.casRequired ? 1 : 0,
    s.deleteVersionAfterMs,
    s.customMetadata,
    s.kekId,
    s.wrappedDataKey,
    s.previousVersion ?? null,
    s.previousValidUntil ?? null,
    s.pendingSince ?? null,
    s.createdAt,
    s.updatedAt,
  ];
}

/** Inserts a secret's row (its first write or metadata write). */
export async function insertSecret(tx: Transaction, s: StoredSecret): Promise<void> {
  await tx.execute(
    `INSERT INTO secrets (${SECRET_COLUMNS})
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
    secretParams(s),
  );
}

/** Rewrites a secret's row (everything but its key and creation time). */
export async function updateSecret(tx: Transaction, s: StoredSecret): Promise<void> {
  await tx.execute(
    `UPDATE secrets SET current_version = $3, oldest_version = $4, max_versions = $5,
       cas_required = $6, delete_version_after_ms = $7, custom_metadata = $8, kek_id = $9,
       wrapped_data_key = $10, previous_version = $11, previous_valid_until = $12,
       pending_since = $13, updated_at = $15
     WHERE mount = $1 AND path = $2 AND created_at = $14`, // the row this transaction read
    secretParams(s),
  );
}

/** Inserts a version with its sealed value. */
export async function insertSecretVersion(
  tx: Transaction,
  mount: string,
  path: string,
  v: { version: number; createdAt: number; deletionTime: number | undefined; sealedValue: Buffer },
): Promise<void> {
  await tx.execute(
    `INSERT INTO secret_versions (mount, path, version, created_at, deletion_time, destroyed,
       sealed_value) VALUES ($1, $2, $3, $4, $5, 0, $6)`,
    [mount, path, v.version, v.createdAt, v.deletionTime ?? null, v.sealedValue],
  );
}

/** Sets (a time) or clears (undefined) the deletion time of versions not destroyed. */
export async function setVersionsDeletion(
  tx: Transaction,
  mount: string,
  path: string,
  versions: readonly number[],
  deletionTime: number | undefined,
): Promise<void> {
  for (const v of versions) {
    await tx.execute(
      `UPDATE secret_versions SET deletion_time = $4
       WHERE mount = $1 AND path = $2 AND version = $3 AND destroyed = 0`,
      [mount, path, v, deletionTime ?? null],
    );
  }
}

/** Destroys versions: their sealed values are gone for good. */
export async function destroySecretVersions(
  tx: Transaction,
  mount: string,
  path: string,
  versions: readonly number[],
): Promise<void> {
  for (const v of versions) {
    await tx.execute(
      `UPDATE secret_versions SET destroyed = 1, sealed_value = NULL
       WHERE mount = $1 AND path = $2 AND version = $3`,
      [mount, path, v],
    );
  }
}

/** Deletes the versions below `oldest` (max_versions pruning). */
export async function pruneSecretVersions(
  tx: Transaction,
  mount: string,
  path: string,
  oldest: number,
): Promise<void> {
  await tx.execute('DELETE FROM secret_versions WHERE mount = $1 AND path = $2 AND version < $3', [
    mount,
    path,
    oldest,
  ]);
  await tx.execute('DELETE FROM secret_consumers WHERE mount = $1 AND path = $2 AND version < $3', [
    mount,
    path,
    oldest,
  ]);
}

/** Deletes a secret, every version and its consumer records; false when there was none. */
export async function deleteSecret(tx: Transaction, mount: string, path: string): Promise<boolean> {
  await tx.execute('DELETE FROM secret_versions WHERE mount = $1 AND path = $2', [mount, path]);
  await tx.execute('DELETE FROM secret_consumers WHERE mount = $1 AND path = $2', [mount, path]);
  return (
    (await tx.execute('DELETE FROM secrets WHERE mount = $1 AND path = $2', [mount, path])) > 0
  );
}

/** The paths of the secrets under `folder` (`''`: every one), sorted. */
export async function listSecretPaths(
  db: Queryable,
  mount: string,
  folder: string,
): Promise<string[]> {
  // A prefix compared for equality, not LIKE (`_` is a LIKE wildcard and may appear in paths) nor
  // a range (PostgreSQL orders text by the database's collation, which may skip punctuation).
  const prefix = `${folder}/`;
  const rows =
    folder === ''
      ? await db.query<{ path: string }>('SELECT path FROM secrets WHERE mount = $1', [mount])
      : await db.query<{ path: string }>(
          'SELECT path FROM secrets WHERE mount = $1 AND substr(path, 1, $3) = $2',
          [mount, prefix, prefix.length],
        );
  // Sorted here, by code unit, whatever the database's collation.
  return rows.map((r) => r.path).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The secrets whose previous version's grace ended by `now`. */
export async function listEndedGraces(
  db: Queryable,
  now: number,
  limit: number,
): Promise<StoredSecret[]> {
  const rows = await db.query(
    `SELECT ${SECRET_COLUMNS} FROM secrets WHERE previous_valid_until <= $1
     ORDER BY previous_valid_until LIMIT $2`,
    [now, limit],
  );
  return rows.map(secretOf);
}

/** Secrets whose data key is wrapped by another key than `kekId`. */
export async function listSecretsNotWrappedBy(
  db: Queryable,
  kekId: string,
  limit: number,
): Promise<StoredSecret[]> {
  const rows = await db.query(
    `SELECT ${SECRET_COLUMNS} FROM secrets WHERE kek_id <> $1 ORDER BY mount, path LIMIT $2`,
    [kekId, limit],
  );
  return rows.map(secretOf);
}

/** A workload's read of a secret's version, as `recordSecretReads` takes it. */
export interface SecretRead {
  readonly mount: string;
  readonly path: string;
  readonly version: number;
  readonly spiffeId: string;
  readonly at: number;
}

/** Rows per upsert: powers of two down from this, so few distinct statements are prepared. */
const MAX_READS_PER_UPSERT = 64;

function upsertReadsSql(rows: number): string {
  const values = Array.from({ length: rows }, (_, r) => {
    const p = (c: number) => `$${r * 5 + c}`;
    return `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(5)})`;
  });
  return `INSERT INTO secret_consumers (mount, path, version, spiffe_id, first_read_at, last_read_at)
    VALUES ${values.join(', ')}
    ON CONFLICT (mount, path, version, spiffe_id) DO UPDATE SET last_read_at = CASE
      WHEN excluded.last_read_at > secret_consumers.last_read_at THEN excluded.last_read_at
      ELSE secret_consumers.last_read_at END`;
}

/** Records that workloads read versions (insert, or move last_read_at), a few statements a batch. */
export async function recordSecretReads(
  tx: Transaction,
  reads: readonly SecretRead[],
): Promise<void> {
  // One row per key (a multi-row upsert may not touch a row twice): the latest read of each.
  const latest = new Map<string, SecretRead>();
  for (const r of reads) {
    const key = `${r.mount}\n${r.path}\n${r.version}\n${r.spiffeId}`;
    const seen = latest.get(key);
    if (seen === undefined || seen.at <= r.at) latest.set(key, r);
  }
  const rows = [...latest.values()];
  for (let done = 0; done < rows.length;) {
    let n = MAX_READS_PER_UPSERT;
    while (n > rows.length - done) n /= 2;
    const params = rows
      .slice(done, done + n)
      .flatMap((r) => [r.mount, r.path, r.version, r.spiffeId, r.at]);
    await tx.execute(upsertReadsSql(n), params);
    done += n;
  }
}

/** Who read which version of a secret: per workload, the newest version read and when. */
export async function listSecretConsumers(
  db: Queryable,
  mount: string,
  path: string,
): Promise<{ spiffeId: string; version: number; lastReadAt: number }[]> {
  const rows = await db.query(
    `SELECT spiffe_id, MAX(version) AS version, MAX(last_read_at) AS last_read_at
     FROM secret_consumers WHERE mount = $1 AND path = $2 GROUP BY spiffe_id ORDER BY spiffe_id`,
    [mount, path],
  );
  return rows.map((r) => ({
    spiffeId: r['spiffe_id'] as string,
    version: num(r['version']),
    lastReadAt: num(r['last_read_at']),
  }));
}

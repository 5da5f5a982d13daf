import type { Queryable } from '../database.js';

/** A signing key of the OAuth server as stored: its public half and schedule, never its private key. */
export interface StoredSigningKey {
  /** The JWK thumbprint (RFC 7638), published as `kid`. */
  readonly kid: string;
  /** The server replica that holds the private key. */
  readonly serverId: string;
  /** The id of the private key in that replica's key manager. */
  readonly keyId: string;
  readonly alg: string;
  /** The public JWK as JSON text. */
  readonly publicJwk: string;
  readonly activeFrom: number;
  readonly activeUntil: number;
  /** When it leaves the JWK Set: after every token it signed has expired. */
  readonly publishedUntil: number;
}

const KEY_COLUMNS =
  'kid, server_id, key_id, alg, public_jwk, active_from, active_until, published_until';

function keyOf(r: Record<string, unknown>): StoredSigningKey {
  return {
    kid: r['kid'] as string,
    serverId: r['server_id'] as string,
    keyId: r['key_id'] as string,
    alg: r['alg'] as string,
    publicJwk: r['public_jwk'] as string,
    activeFrom: Number(r['active_from']),
    activeUntil: Number(r['active_until']),
    publishedUntil: Number(r['published_until']),
  };
}

/** Stores a new signing key. */
export async function insertSigningKey(db: Queryable, k: StoredSigningKey): Promise<void> {
  await db.execute(
    `INSERT INTO oauth_signing_keys (${KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [k.kid, k.serverId, k.keyId, k.alg, k.publicJwk, k.activeFrom, k.activeUntil, k.publishedUntil],
  );
}

/** The keys still published at `now` (of every replica), oldest first. */
export async function listPublishedSigningKeys(
  db: Queryable,
  now: number,
): Promise<StoredSigningKey[]> {
  const rows = await db.query(
    `SELECT ${KEY_COLUMNS} FROM oauth_signing_keys WHERE published_until > $1 ORDER BY active_from, kid`,
    [now],
  );
  return rows.map(keyOf);
}

/** The keys of one replica, published or not, oldest first. */
export async function listServerSigningKeys(
  db: Queryable,
  serverId: string,
): Promise<StoredSigningKey[]> {
  const rows = await db.query(
    `SELECT ${KEY_COLUMNS} FROM oauth_signing_keys WHERE server_id = $1 ORDER BY active_from, kid`,
    [serverId],
  );
  return rows.map(keyOf);
}

/** Deletes a key's row. */
export async function deleteSigningKey(db: Queryable, kid: string): Promise<void> {
  await db.execute('DELETE FROM oauth_signing_keys WHERE kid = $1', [kid]);
}

/** Changes when a key signs (a forced rotation); it stays published as long as before. */
export async function setSigningKeyPeriod(
  db: Queryable,
  kid: string,
  activeFrom: number,
  activeUntil: number,
): Promise<void> {
  await db.execute(
    'UPDATE oauth_signing_keys SET active_from = $2, active_until = $3 WHERE kid = $1',
    [kid, activeFrom, activeUntil],
  );
}

/** Records a revoked access token (idempotent: revoking twice keeps the first record). */
export async function insertRevokedToken(
  db: Queryable,
  r: {
    readonly jti: string;
    readonly clientId: string;
    readonly revokedAt: number;
    readonly expiresAt: number;
  },
): Promise<void> {
  await db.execute(
    `INSERT INTO oauth_revoked_tokens (jti, client_id, revoked_at, expires_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (jti) DO NOTHING`,
    [r.jti, r.clientId, r.revokedAt, r.expiresAt],
  );
}

/** The revoked token ids that have not expired by `now` (the revocation list every replica holds). */
export async function listRevokedTokens(
  db: Queryable,
  now: number,
): Promise<{ jti: string; expiresAt: number }[]> {
  const rows = await db.query(
    'SELECT jti, expires_at FROM oauth_revoked_tokens WHERE expires_at > $1',
    [now],
  );
  return rows.map((r) => ({ jti: r['jti'] as string, expiresAt: Number(r['expires_at']) }));
}

/** True when the token with this id was revoked. */
export async function isTokenRevoked(db: Queryable, jti: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 AS one FROM oauth_revoked_tokens WHERE jti = $1', [jti]);
  return rows.length > 0;
}

/** Deletes revocation records of tokens expired by `now`; returns how many. */
export function pruneRevokedTokens(db: Queryable, now: number): Promise<number> {
  return db.execute('DELETE FROM oauth_revoked_tokens WHERE expires_at <= $1', [now]);
}

import type { Queryable, Transaction } from '../database.js';

/** A login token as stored: the hex SHA-256 of the token (never the token), whom and until when. */
export interface StoredSecretToken {
  readonly tokenHash: string;
  readonly spiffeId: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** Stores a token's hash. */
export async function insertSecretToken(tx: Transaction, t: StoredSecretToken): Promise<void> {
  await tx.execute(
    'INSERT INTO secret_tokens (token_hash, spiffe_id, created_at, expires_at) VALUES ($1, $2, $3, $4)',
    [t.tokenHash, t.spiffeId, t.createdAt, t.expiresAt],
  );
}

/** The token with this hash, or undefined. */
export async function getSecretToken(
  db: Queryable,
  tokenHash: string,
): Promise<StoredSecretToken | undefined> {
  const [r] = await db.query(
    'SELECT token_hash, spiffe_id, created_at, expires_at FROM secret_tokens WHERE token_hash = $1',
    [tokenHash],
  );
  return r === undefined
    ? undefined
    : {
        tokenHash: r['token_hash'] as string,
        spiffeId: r['spiffe_id'] as string,
        createdAt: Number(r['created_at']),
        expiresAt: Number(r['expires_at']),
      };
}

/** Deletes a token (revocation). */
export async function deleteSecretToken(db: Queryable, tokenHash: string): Promise<void> {
  await db.execute('DELETE FROM secret_tokens WHERE token_hash = $1', [tokenHash]);
}

/** Deletes tokens expired by `now`; returns how many. */
export function pruneSecretTokens(db: Queryable, now: number): Promise<number> {
  return db.execute('DELETE FROM secret_tokens WHERE expires_at <= $1', [now]);
}

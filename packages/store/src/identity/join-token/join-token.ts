import { createHash } from 'node:crypto';
import type { SpiffeId } from '@parley/core';
import { storedSpiffeId } from '../stored-value.js';

/** A stored join token: its hash (never the token), the agent ID it grants and its expiry. */
export interface JoinTokenRecord {
  /** Lowercase hex SHA-256 of the token; safe to log. */
  readonly tokenHash: string;
  /** The SPIFFE ID the agent that presents it attests as, when the token names one. */
  readonly spiffeId?: SpiffeId;
  readonly expiresAt: number;
  readonly createdAt: number;
}

/**
 * The hash under which a join token is stored and looked up: lowercase hex SHA-256 of its UTF-8
 * text. Join tokens are random and long (the identity module generates them), so a plain hash
 * cannot be reversed by guessing; the hash is also what logs and audit events may show.
 */
export function hashJoinToken(token: string): string {
  if (typeof token !== 'string' || token === '') {
    throw new TypeError('join token must be a non-empty string');
  }
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A row of `join_tokens`. */
export interface JoinTokenRow {
  readonly token_hash: string;
  readonly spiffe_id: string | null;
  readonly expires_at: number;
  readonly created_at: number;
}

/** The columns of `join_tokens`, in `JoinTokenRow` order. */
export const JOIN_TOKEN_COLUMNS = 'token_hash, spiffe_id, expires_at, created_at';

/** Parses a stored row. */
export function joinTokenFromRow(row: JoinTokenRow): JoinTokenRecord {
  return {
    tokenHash: row.token_hash,
    ...(row.spiffe_id === null
      ? {}
      : { spiffeId: storedSpiffeId(row.spiffe_id, `join token ${row.token_hash.slice(0, 12)}…`) }),
    expiresAt: row.expires_at,
    createdAt: row.created_at,
  };
}

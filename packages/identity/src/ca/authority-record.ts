import type { KeyType } from '@parley/core';

/**
 * Where an authority is in its life: `prepared` (published in the bundle, not signing yet),
 * `active` (signing), `old` (replaced, still trusted), `tainted` (still trusted, but agents must
 * re-issue what it signed), `revoked` (removed from the bundle by an operator) or `retired`
 * (removed from the bundle because it expired, or discarded before it was ever activated).
 */
export type AuthorityStatus = 'prepared' | 'active' | 'old' | 'tainted' | 'revoked' | 'retired';

/** The statuses whose authority is published in the trust bundle. */
export const BUNDLED_STATUSES: readonly AuthorityStatus[] = [
  'prepared',
  'active',
  'old',
  'tainted',
];

/** True when an authority of this status is in the trust bundle. */
export function isBundled(status: AuthorityStatus): boolean {
  return BUNDLED_STATUSES.includes(status);
}

/** What every authority (X.509 CA or JWT key) records, whatever its kind. */
export interface AuthorityRecordBase {
  /** X.509: the CA certificate's subject key ID in lowercase hex; JWT: the key ID (`kid`). */
  readonly id: string;
  readonly status: AuthorityStatus;
  /** The key manager's id of the private key. */
  readonly keyId: string;
  readonly keyType: KeyType;
  /** When it was prepared (ms since the epoch); rotation thresholds count from here. */
  readonly issuedAt: number;
  readonly notAfter: number;
  /**
   * The bundle sequence number of the change that last touched this record: every transition
   * takes the next number, so the trust domain's bundle sequence is the highest of them.
   */
  readonly sequence: number;
}

/** An X.509 CA of the server: self-signed, or an intermediate under an upstream authority. */
export interface X509AuthorityRecord extends AuthorityRecordBase {
  readonly kind: 'x509';
  /**
   * DER certificates: this CA's first, then the upstream chain up to and including its root (a
   * self-signed CA is its own root, alone). The last one is what the bundle publishes.
   */
  readonly certChain: readonly Uint8Array[];
  /** The upstream signer's subject key ID in lowercase hex, when an upstream authority signed it. */
  readonly upstreamAuthorityId?: string;
}

/** A JWT-SVID signing key of the server. */
export interface JwtAuthorityRecord extends AuthorityRecordBase {
  readonly kind: 'jwt';
  /** The public key, SPKI DER. */
  readonly publicKey: Uint8Array;
}

/** Every kind of authority record: what the journal persists. */
export type AuthorityRecord = X509AuthorityRecord | JwtAuthorityRecord;

/** The two kinds of authority, as the CLI names them (`parley authority x509|jwt …`). */
export type AuthorityKind = AuthorityRecord['kind'];

import { ParleyError } from '@parley/core';

/** The two kinds of signing authority a server has. */
export type AuthorityKind = 'x509' | 'jwt';

/**
 * Where an authority is in its rotation: `prepared` (in the bundle, not yet signing), `active`
 * (signing), `old` (superseded, still in the bundle until it expires), `tainted` (agents must
 * re-issue what it signed) and `revoked` (removed from the bundle).
 */
export type AuthorityStatus = 'prepared' | 'active' | 'old' | 'tainted' | 'revoked';

/**
 * The status changes the store allows, as SPIRE's local authority API does: a prepared authority
 * is activated (or set aside as old when another is prepared), an active one becomes old, only
 * an old one can be tainted, and only a tainted one revoked.
 */
export const AUTHORITY_TRANSITIONS: Readonly<Record<AuthorityStatus, readonly AuthorityStatus[]>> =
  {
    prepared: ['active', 'old'],
    active: ['old'],
    old: ['tainted'],
    tainted: ['revoked'],
    revoked: [],
  };

/** One signing authority of the journal: public parts only (private keys stay in the key manager). */
export interface CaAuthority {
  readonly id: string;
  readonly kind: AuthorityKind;
  /** The key manager's ID of the key (and the JWT `kid` of a JWT authority). */
  readonly keyId: string;
  readonly status: AuthorityStatus;
  /** SubjectPublicKeyInfo, DER. */
  readonly publicKey: Uint8Array;
  /** The CA certificate, DER (X.509 authorities only). */
  readonly certificate?: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  /** DER certificates from the CA certificate's issuer up to the upstream root; empty for none. */
  readonly upstreamChain: readonly Uint8Array[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** The columns of `ca_authorities`, in `AuthorityRow` order. */
export const AUTHORITY_COLUMNS =
  'id, kind, key_id, status, public_key, certificate, not_before, not_after, upstream_chain, ' +
  'created_at, updated_at';

/** A row of `ca_authorities`. */
export interface AuthorityRow {
  readonly id: string;
  readonly kind: string;
  readonly key_id: string;
  readonly status: string;
  readonly public_key: Uint8Array;
  readonly certificate: Uint8Array | null;
  readonly not_before: number;
  readonly not_after: number;
  readonly upstream_chain: string;
  readonly created_at: number;
  readonly updated_at: number;
}

const isStatus = (s: string): s is AuthorityStatus => Object.hasOwn(AUTHORITY_TRANSITIONS, s);

/** The stored text of an upstream chain: a JSON array of base64 DER certificates. */
export function chainJson(chain: readonly Uint8Array[]): string {
  return JSON.stringify(chain.map((der) => Buffer.from(der).toString('base64')));
}

function storedChain(text: string, where: string): Uint8Array[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((s: unknown) => typeof s === 'string')) {
    throw new ParleyError('internal', `stored upstream chain of ${where} is corrupt`);
  }
  return parsed.map((b64) => new Uint8Array(Buffer.from(b64, 'base64')));
}

/** Parses a stored row. */
export function authorityFromRow(row: AuthorityRow): CaAuthority {
  const where = `CA authority ${row.id}`;
  if ((row.kind !== 'x509' && row.kind !== 'jwt') || !isStatus(row.status)) {
    throw new ParleyError('internal', `stored kind or status of ${where} is unknown`);
  }
  return {
    id: row.id,
    kind: row.kind,
    keyId: row.key_id,
    status: row.status,
    publicKey: new Uint8Array(row.public_key),
    ...(row.certificate === null ? {} : { certificate: new Uint8Array(row.certificate) }),
    notBefore: row.not_before,
    notAfter: row.not_after,
    upstreamChain: storedChain(row.upstream_chain, where),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

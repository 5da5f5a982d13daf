import { randomUUID } from 'node:crypto';
import { ParleyError } from '@parley/core';
import type { Queryable } from '../../database.js';
import { checkCount, checkText } from '../stored-value.js';
import type { AuthorityKind, AuthorityStatus, CaAuthority } from './ca-authority.js';
import { AUTHORITY_TRANSITIONS, chainJson } from './ca-authority.js';

/** An authority to record: `id` defaults to a UUID, `status` to `prepared`. */
export interface NewCaAuthority {
  readonly id?: string;
  readonly kind: AuthorityKind;
  readonly keyId: string;
  readonly status?: AuthorityStatus;
  readonly publicKey: Uint8Array;
  readonly certificate?: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly upstreamChain?: readonly Uint8Array[];
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length > 0;

/**
 * Records a signing authority in the journal at `now`. An X.509 authority has a certificate; a
 * JWT one has neither certificate nor upstream chain. Fails with `already-exists` when its id, or
 * its key ID for that kind, is recorded already.
 */
export async function saveAuthority(
  db: Queryable,
  authority: NewCaAuthority,
  now: number,
): Promise<CaAuthority> {
  const id = authority.id ?? randomUUID();
  const status = authority.status ?? 'prepared';
  const chain = [...(authority.upstreamChain ?? [])];
  if (authority.kind !== 'x509' && authority.kind !== 'jwt') {
    throw new TypeError('authority kind must be x509 or jwt');
  }
  if (!Object.hasOwn(AUTHORITY_TRANSITIONS, status)) {
    throw new TypeError(`unknown authority status ${String(status)}`);
  }
  if (
    typeof id !== 'string' ||
    id === '' ||
    typeof authority.keyId !== 'string' ||
    authority.keyId === ''
  ) {
    throw new TypeError('authority id and keyId must be non-empty strings');
  }
  checkText('authority id', id);
  checkText('authority keyId', authority.keyId);
  if (!isBytes(authority.publicKey)) throw new TypeError('authority publicKey must be DER bytes');
  if (authority.kind === 'x509' && !isBytes(authority.certificate)) {
    throw new TypeError('an X.509 authority needs its certificate');
  }
  if (authority.kind === 'jwt' && (authority.certificate !== undefined || chain.length > 0)) {
    throw new TypeError('a JWT authority has no certificate and no upstream chain');
  }
  if (!chain.every(isBytes))
    throw new TypeError('authority upstreamChain must be DER certificates');
  checkCount('authority notBefore', authority.notBefore);
  checkCount('authority notAfter', authority.notAfter);
  checkCount('now', now);
  if (authority.notAfter <= authority.notBefore) {
    throw new RangeError('authority notAfter must be after notBefore');
  }
  const inserted = await db.execute(
    `INSERT INTO ca_authorities (id, kind, key_id, status, public_key, certificate, not_before,
       not_after, upstream_chain, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
     ON CONFLICT DO NOTHING`,
    [
      id,
      authority.kind,
      authority.keyId,
      status,
      authority.publicKey,
      authority.certificate ?? null,
      authority.notBefore,
      authority.notAfter,
      chainJson(chain),
      now,
    ],
  );
  if (inserted === 0) {
    throw new ParleyError(
      'already-exists',
      `a ${authority.kind} authority with id ${JSON.stringify(id)} or key ID ` +
        `${JSON.stringify(authority.keyId)} is recorded already`,
    );
  }
  return {
    id,
    kind: authority.kind,
    keyId: authority.keyId,
    status,
    // Copies, typed as read back (a caller's Buffer would compare unequal to a stored row).
    publicKey: new Uint8Array(authority.publicKey),
    ...(authority.certificate === undefined
      ? {}
      : { certificate: new Uint8Array(authority.certificate) }),
    notBefore: authority.notBefore,
    notAfter: authority.notAfter,
    upstreamChain: chain.map((der) => new Uint8Array(der)),
    createdAt: now,
    updatedAt: now,
  };
}

import type { SpiffeId, TrustDomain } from '@parley/core';
import type { SqlValue } from '../../database.js';
import type { Selector } from '../selector.js';
import { canonicalSelectors, selectorsHash, selectorsJson, storedSelectors } from '../selector.js';
import {
  checkCount,
  checkSpiffeId,
  checkText,
  checkTrustDomain,
  storedFlag,
  storedSpiffeId,
  storedStrings,
  storedTrustDomain,
} from '../stored-value.js';

/** What an entry says, as SPIRE's registration entries do; all of it can be changed by update. */
export interface RegistrationEntryFields {
  /** The SPIFFE ID the workload (or node alias) is issued. */
  readonly spiffeId: SpiffeId;
  /** The agent (or node alias, or server) under which the entry applies. */
  readonly parentId: SpiffeId;
  /** The selectors a workload must have; canonical order (by type, then value) when read. */
  readonly selectors: readonly Selector[];
  /** X509-SVID lifetime in seconds; 0 means the server default. */
  readonly x509SvidTtl: number;
  /** JWT-SVID lifetime in seconds; 0 means the server default. */
  readonly jwtSvidTtl: number;
  readonly dnsNames: readonly string[];
  /** Trust domains whose bundles workloads of this entry receive. */
  readonly federatesWith: readonly TrustDomain[];
  /** An opaque hint for workloads with several identities; `''` for none. */
  readonly hint: string;
  readonly admin: boolean;
  readonly downstream: boolean;
  /** When the entry stops applying (ms since the epoch); absent for never. */
  readonly expiresAt?: number;
}

/** A stored registration entry. */
export interface RegistrationEntry extends RegistrationEntryFields {
  readonly id: string;
  /** 0 when created, bumped by every update. */
  readonly revision: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** The fields given to create or update an entry: those not given take their defaults. */
export type RegistrationEntryInput = Pick<
  RegistrationEntryFields,
  'spiffeId' | 'parentId' | 'selectors'
> &
  Partial<Omit<RegistrationEntryFields, 'spiffeId' | 'parentId' | 'selectors'>>;

/** An entry to create: its fields, and an id (a generated UUID when absent). */
export interface NewRegistrationEntry extends RegistrationEntryInput {
  readonly id?: string;
}

/** The columns of `registration_entries` a query selects to build a `RegistrationEntry`. */
export const ENTRY_COLUMNS =
  'id, spiffe_id, parent_id, selectors, x509_svid_ttl, jwt_svid_ttl, dns_names, federates_with, ' +
  'hint, admin, downstream, expires_at, revision, created_at, updated_at';

/** The same columns qualified by the alias `e`. */
export const ENTRY_COLUMNS_E = ENTRY_COLUMNS.split(', ')
  .map((c) => `e.${c}`)
  .join(', ');

/** A row of `registration_entries` as selected by `ENTRY_COLUMNS`. */
export interface EntryRow {
  readonly id: string;
  readonly spiffe_id: string;
  readonly parent_id: string;
  readonly selectors: string;
  readonly x509_svid_ttl: number;
  readonly jwt_svid_ttl: number;
  readonly dns_names: string;
  readonly federates_with: string;
  readonly hint: string;
  readonly admin: number;
  readonly downstream: number;
  readonly expires_at: number | null;
  readonly revision: number;
  readonly created_at: number;
  readonly updated_at: number;
}

/** Parses a stored row into typed values; a row that does not parse is reported as internal. */
export function entryFromRow(row: EntryRow): RegistrationEntry {
  const where = `registration entry ${row.id}`;
  return {
    id: row.id,
    spiffeId: storedSpiffeId(row.spiffe_id, where),
    parentId: storedSpiffeId(row.parent_id, where),
    selectors: storedSelectors(row.selectors, where),
    x509SvidTtl: row.x509_svid_ttl,
    jwtSvidTtl: row.jwt_svid_ttl,
    dnsNames: storedStrings(row.dns_names, where),
    federatesWith: storedStrings(row.federates_with, where).map((td) =>
      storedTrustDomain(td, where),
    ),
    hint: row.hint,
    admin: storedFlag(row.admin),
    downstream: storedFlag(row.downstream),
    ...(row.expires_at === null ? {} : { expiresAt: row.expires_at }),
    revision: row.revision,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** An input checked, with its defaults filled in and its selectors in canonical order. */
export interface CheckedEntryFields {
  readonly fields: RegistrationEntryFields;
  /** The values of the `FIELD_COLUMNS`, in order. */
  readonly values: readonly SqlValue[];
  /** The `selectors_hash` column's value. */
  readonly selectorsHash: string;
}

/** The columns `CheckedEntryFields.values` fills. */
export const FIELD_COLUMNS = [
  'spiffe_id',
  'parent_id',
  'selectors',
  'selectors_hash',
  'x509_svid_ttl',
  'jwt_svid_ttl',
  'dns_names',
  'federates_with',
  'hint',
  'admin',
  'downstream',
  'expires_at',
] as const;

/**
 * Checks an entry's fields as far as the store needs (types, ranges, no duplicate selector) and
 * fills in defaults. Business rules (reserved paths, trust domain membership) are the identity
 * module's.
 */
export function checkEntryFields(input: RegistrationEntryInput): CheckedEntryFields {
  checkSpiffeId('registration entry spiffeId', input.spiffeId);
  checkSpiffeId('registration entry parentId', input.parentId);
  const selectors = canonicalSelectors(input.selectors, 'registration entry');
  const x509SvidTtl = input.x509SvidTtl ?? 0;
  const jwtSvidTtl = input.jwtSvidTtl ?? 0;
  checkCount('registration entry x509SvidTtl', x509SvidTtl);
  checkCount('registration entry jwtSvidTtl', jwtSvidTtl);
  const dnsNames = [...(input.dnsNames ?? [])];
  dnsNames.forEach((n) => checkText('registration entry dnsNames', n));
  const federatesWith = [...(input.federatesWith ?? [])];
  federatesWith.forEach((td) => checkTrustDomain('registration entry federatesWith', td));
  const hint = input.hint ?? '';
  checkText('registration entry hint', hint);
  const admin = input.admin ?? false;
  const downstream = input.downstream ?? false;
  if (typeof admin !== 'boolean' || typeof downstream !== 'boolean') {
    throw new TypeError('registration entry admin and downstream must be booleans');
  }
  if (input.expiresAt !== undefined) checkCount('registration entry expiresAt', input.expiresAt);
  const hash = selectorsHash(selectors);
  return {
    fields: {
      spiffeId: input.spiffeId,
      parentId: input.parentId,
      selectors,
      x509SvidTtl,
      jwtSvidTtl,
      dnsNames,
      federatesWith,
      hint,
      admin,
      downstream,
      ...(input.expiresAt === undefined ? {} : { expiresAt: input.expiresAt }),
    },
    selectorsHash: hash,
    values: [
      input.spiffeId.toString(),
      input.parentId.toString(),
      selectorsJson(selectors),
      hash,
      x509SvidTtl,
      jwtSvidTtl,
      JSON.stringify(dnsNames),
      JSON.stringify(federatesWith.map((td) => td.name)),
      hint,
      admin ? 1 : 0,
      downstream ? 1 : 0,
      input.expiresAt ?? null,
    ],
  };
}

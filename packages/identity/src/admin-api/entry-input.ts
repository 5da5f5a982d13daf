import {
  type TrustDomain,
  type ConfigProblem,
  type ObjectReader,
  parseSpiffeId,
  parseTrustDomain,
} from '@parley/core';
import type { NewRegistrationEntry, RegistrationEntry } from '@parley/store';
import {
  ENTRY_LIMITS,
  type EntryInput,
  validateEntryInput,
} from '../entries/registration-entry.js';
import type { EntryDto } from './admin-dto.js';
import { readParsedStrings, readSelectors, readStrings } from './request-reader.js';
import { formatTimestamp, parseTimestamp } from './timestamp.js';

/**
 * Reads the fields of an entry (`EntryInputDto`; with `withId`, its optional `id`) from a request
 * object. Returns an input for `validateEntryInput`; the caller reports the problems.
 */
export function readEntryInput(
  r: ObjectReader,
  problems: ConfigProblem[],
  withId: boolean,
): EntryInput {
  const id = withId ? r.optionalString('id') : undefined;
  const ttl = (key: string) => r.integer(key, 0, 0, ENTRY_LIMITS.maxTtl);
  const expiresAt = r.has('expiresAt') ? r.parsed('expiresAt', parseTimestamp) : undefined;
  return {
    ...(id === undefined ? {} : { id }),
    spiffeId: r.parsed('spiffeId', parseSpiffeId),
    parentId: r.parsed('parentId', parseSpiffeId),
    selectors: readSelectors(r, 'selectors', problems, true),
    x509SvidTtl: ttl('x509SvidTtl'),
    jwtSvidTtl: ttl('jwtSvidTtl'),
    dnsNames: readStrings(r, 'dnsNames'),
    federatesWith: readParsedStrings(r, 'federatesWith', parseTrustDomain),
    hint: r.string('hint', ''),
    admin: r.boolean('admin', false),
    downstream: r.boolean('downstream', false),
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
}

/** Validates an entry for trust domain `td` and converts it to what the store takes. */
export function storeEntryInput(td: TrustDomain, input: EntryInput): NewRegistrationEntry {
  return validateEntryInput(td, input);
}

/** A stored entry on the wire. */
export function entryDto(e: RegistrationEntry): EntryDto {
  return {
    id: e.id,
    spiffeId: e.spiffeId.toString(),
    parentId: e.parentId.toString(),
    selectors: e.selectors.map((s) => ({ type: s.type, value: s.value })),
    x509SvidTtl: e.x509SvidTtl,
    jwtSvidTtl: e.jwtSvidTtl,
    dnsNames: [...e.dnsNames],
    federatesWith: e.federatesWith.map((td) => td.name),
    hint: e.hint,
    admin: e.admin,
    downstream: e.downstream,
    ...(e.expiresAt === undefined ? {} : { expiresAt: formatTimestamp(e.expiresAt) }),
    revision: e.revision,
    createdAt: formatTimestamp(e.createdAt),
    updatedAt: formatTimestamp(e.updatedAt),
  };
}

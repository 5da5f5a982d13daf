import type { RegistrationEntryFields } from '@parley/store';
import {
  checkDnsName,
  checkEntrySelector,
  formatSelector,
  type SpiffeId,
  type TrustDomain,
  invalidArgument,
  parseSpiffeId,
  parseTrustDomain,
} from '@parley/core';

/** A registration entry as the store keeps it (one definition for both). */
export type { RegistrationEntry } from '@parley/store';
export type { Selector } from '@parley/core';

/** Fields a caller sets when creating or updating an entry (the rest is assigned by the server). */
export type EntryInput = RegistrationEntryFields & { readonly id?: string };

/** Path prefix reserved for the identities of Parley's own components (agents, servers). */
export const RESERVED_PATH_PREFIX = '/parley/';

/** Bounds on entry fields (bad input is rejected, never truncated). */
export const ENTRY_LIMITS = {
  selectors: 64,
  dnsNames: 64,
  federatesWith: 64,
  hintLength: 1024,
  /** Ten years, in seconds. */
  maxTtl: 10 * 365 * 24 * 3600,
  idLength: 128,
} as const;

const ENTRY_ID = /^[A-Za-z0-9_.-]+$/;

function checkTtl(name: string, ttl: number): number {
  if (!Number.isSafeInteger(ttl) || ttl < 0 || ttl > ENTRY_LIMITS.maxTtl) {
    throw invalidArgument(`${name} must be 0 (server default) to ${ENTRY_LIMITS.maxTtl} seconds`);
  }
  return ttl;
}

/** Checks a workload's SPIFFE ID: in `td`, with a path, not under the reserved `/parley/` prefix. */
export function checkWorkloadId(td: TrustDomain, id: SpiffeId): SpiffeId {
  if (!id.memberOf(td)) {
    throw invalidArgument(`SPIFFE ID ${id.toString()} is not in trust domain ${td.name}`);
  }
  if (id.isRoot) throw invalidArgument('SPIFFE ID must have a path');
  if ((id.path + '/').startsWith(RESERVED_PATH_PREFIX)) {
    throw invalidArgument(`SPIFFE ID path ${id.path} is reserved for Parley's own components`);
  }
  return id;
}

/**
 * Validates an entry for trust domain `td` (SPIRE's rules and Parley's bad-input list): the SPIFFE
 * ID is in `td`, has a path and is not under the reserved `/parley/` prefix; the parent is in `td`;
 * at least one selector (each checked, no duplicates) unless the entry is a node alias made
 * by the server itself; TTLs, DNS names, federated trust domains (not `td` itself), hint and id
 * bounded. Returns the input normalized to nothing: what is invalid is rejected, never rewritten.
 */
export function validateEntryInput(td: TrustDomain, input: EntryInput): EntryInput {
  const { spiffeId, parentId } = input;
  checkWorkloadId(td, spiffeId);
  if (!parentId.memberOf(td))
    throw invalidArgument(`parent ID ${parentId.toString()} is not in trust domain ${td.name}`);
  if (input.selectors.length === 0) throw invalidArgument('an entry needs at least one selector');
  if (input.selectors.length > ENTRY_LIMITS.selectors)
    throw invalidArgument(`an entry has at most ${ENTRY_LIMITS.selectors} selectors`);
  const seen = new Set<string>();
  for (const s of input.selectors) {
    checkEntrySelector(s);
    const key = formatSelector(s);
    if (seen.has(key)) throw invalidArgument(`duplicate selector ${key.slice(0, 64)}`);
    seen.add(key);
  }
  checkTtl('x509SvidTtl', input.x509SvidTtl);
  checkTtl('jwtSvidTtl', input.jwtSvidTtl);
  if (input.dnsNames.length > ENTRY_LIMITS.dnsNames)
    throw invalidArgument(`an entry has at most ${ENTRY_LIMITS.dnsNames} DNS names`);
  input.dnsNames.forEach(checkDnsName);
  if (input.federatesWith.length > ENTRY_LIMITS.federatesWith) {
    throw invalidArgument(
      `an entry federates with at most ${ENTRY_LIMITS.federatesWith} trust domains`,
    );
  }
  for (const f of input.federatesWith) {
    if (f.equals(td)) throw invalidArgument('an entry cannot federate with its own trust domain');
  }
  if (input.hint.length > ENTRY_LIMITS.hintLength)
    throw invalidArgument(`hint exceeds ${ENTRY_LIMITS.hintLength} characters`);
  if (
    input.id !== undefined &&
    (input.id.length > ENTRY_LIMITS.idLength || !ENTRY_ID.test(input.id))
  ) {
    throw invalidArgument(
      `entry id must be 1-${ENTRY_LIMITS.idLength} of letters, digits, '.', '-', '_'`,
    );
  }
  if (
    input.expiresAt !== undefined &&
    (!Number.isSafeInteger(input.expiresAt) || input.expiresAt < 0)
  ) {
    throw invalidArgument('expiresAt must be a time in milliseconds since the epoch');
  }
  return input;
}

/** Parses the typed identity fields of an entry from text (CLI flags, admin API JSON). */
export function parseEntryIds(fields: {
  spiffeId: string;
  parentId: string;
  federatesWith?: readonly string[];
}): {
  spiffeId: SpiffeId;
  parentId: SpiffeId;
  federatesWith: TrustDomain[];
} {
  return {
    spiffeId: parseSpiffeId(fields.spiffeId),
    parentId: parseSpiffeId(fields.parentId),
    federatesWith: (fields.federatesWith ?? []).map(parseTrustDomain),
  };
}

import type { AgentEntryMessage } from '@parley/api';
import { type SpiffeId, type TrustDomain, parseSpiffeId, parseTrustDomain } from '@parley/core';

/** A registration entry as the agent holds it, parsed from the server's sync message. */
export interface CachedEntry {
  readonly id: string;
  readonly spiffeId: SpiffeId;
  readonly parentId: SpiffeId;
  readonly selectors: readonly { readonly type: string; readonly value: string }[];
  /** Seconds; 0 = server default. */
  readonly x509SvidTtl: number;
  readonly jwtSvidTtl: number;
  readonly dnsNames: readonly string[];
  readonly federatesWith: readonly TrustDomain[];
  readonly hint: string;
  readonly revision: number;
  readonly createdAt: number;
}

/** Parses an entry received from the server (the server is trusted, but its input still parses). */
export function parseEntryMessage(m: AgentEntryMessage): CachedEntry {
  return {
    id: m.id,
    spiffeId: parseSpiffeId(m.spiffe_id),
    parentId: parseSpiffeId(m.parent_id),
    selectors: m.selectors.map((s) => ({ type: s.type, value: s.value })),
    x509SvidTtl: m.x509_svid_ttl,
    jwtSvidTtl: m.jwt_svid_ttl,
    dnsNames: [...m.dns_names],
    federatesWith: m.federates_with.map(parseTrustDomain),
    hint: m.hint,
    revision: Number(m.revision),
    createdAt: Number(m.created_at),
  };
}

/** True when every selector of the entry is among the caller's (SPIRE's subset match). */
export function entryMatches(entry: CachedEntry, callerSelectors: ReadonlySet<string>): boolean {
  return entry.selectors.every((s) => callerSelectors.has(`${s.type}:${s.value}`));
}

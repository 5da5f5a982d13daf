import type { Route } from './route.js';
import type { Bundle, Clock, Duration, SpiffeId, TrustDomain } from '@parley/core';
import type { Database } from '@parley/store';
import type { AuthorityResult } from '../ca/ca.js';
import type { AuthoritySlots } from '../ca/authority-lifecycle.js';
import type {
  AuthorityKind,
  AuthorityRecord,
  JwtAuthorityRecord,
  X509AuthorityRecord,
} from '../ca/authority-record.js';

/** What the admin API needs from the CA (consumer-owned; the `Ca` facade satisfies it). */
export interface AdminCa {
  /** The trust domain's current bundle. */
  bundle(): Bundle;
  mintX509Svid(params: {
    readonly spiffeId: SpiffeId;
    readonly publicKey: Uint8Array;
    readonly ttl: Duration;
    readonly dnsNames?: readonly string[];
  }): Promise<{
    readonly certChain: readonly Uint8Array[];
    readonly expiresAt: number;
    readonly serialNumber: Uint8Array;
  }>;
  mintJwtSvid(params: {
    readonly spiffeId: SpiffeId;
    readonly audience: readonly string[];
    readonly ttl: Duration;
  }): Promise<{ readonly token: string; readonly expiresAt: number }>;
  x509Authorities(): readonly X509AuthorityRecord[];
  jwtAuthorities(): readonly JwtAuthorityRecord[];
  slots(kind: AuthorityKind): AuthoritySlots<AuthorityRecord>;
  prepare(kind: AuthorityKind): Promise<AuthorityResult<AuthorityRecord>>;
  activate(kind: AuthorityKind, id?: string): Promise<AuthorityResult<AuthorityRecord>>;
  taint(kind: AuthorityKind, id: string): Promise<AuthorityResult<AuthorityRecord>>;
  revoke(kind: AuthorityKind, id: string): Promise<AuthorityResult<AuthorityRecord>>;
}

/** What the admin API is built from (STYLE rule 5). */
export interface AdminApiDeps {
  /** The store: entries, agents, join tokens, federated bundles and the audit chain. */
  readonly db: Database;
  readonly ca: AdminCa;
  readonly trustDomain: TrustDomain;
  readonly clock: Clock;
  /** The TTL of `x509 mint` when the request names none (default 1h). */
  readonly defaultX509SvidTtl?: Duration;
  /** The TTL of `jwt mint` when the request names none (default 5m). */
  readonly defaultJwtSvidTtl?: Duration;
  /** Where unexpected failures are reported; the client only sees "internal error". */
  readonly log?: (message: string, cause: unknown) => void;
  /** Routes of other modules (e.g. the mesh's), served with the same framing and errors. */
  readonly extraRoutes?: readonly Route[];
}

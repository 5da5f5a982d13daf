import type { ErrorCode } from '@parley/core';

// The admin API's wire shapes (JSON, camelCase). Times are RFC 3339 UTC date-times, TTLs whole
// seconds; SPIFFE IDs and trust domains are strings in their canonical form.

/** A selector on the wire: `{ "type": "unix", "value": "uid:1000" }`. */
export interface SelectorDto {
  readonly type: string;
  readonly value: string;
}

/** A registration entry as the admin API returns it. */
export interface EntryDto {
  readonly id: string;
  readonly spiffeId: string;
  readonly parentId: string;
  readonly selectors: readonly SelectorDto[];
  /** Seconds; 0 means the server default. */
  readonly x509SvidTtl: number;
  /** Seconds; 0 means the server default. */
  readonly jwtSvidTtl: number;
  readonly dnsNames: readonly string[];
  readonly federatesWith: readonly string[];
  readonly hint: string;
  readonly admin: boolean;
  readonly downstream: boolean;
  /** Absent: the entry never expires. */
  readonly expiresAt?: string;
  readonly revision: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** The fields of an entry to create (`POST /v1/entries`, each item of a batch). */
export interface EntryInputDto {
  readonly id?: string;
  readonly spiffeId: string;
  readonly parentId: string;
  readonly selectors: readonly SelectorDto[];
  readonly x509SvidTtl?: number;
  readonly jwtSvidTtl?: number;
  readonly dnsNames?: readonly string[];
  readonly federatesWith?: readonly string[];
  readonly hint?: string;
  readonly admin?: boolean;
  readonly downstream?: boolean;
  readonly expiresAt?: string;
}

/** An update (`PUT /v1/entries/{id}`): every field, and the revision the change was based on. */
export type EntryUpdateDto = Omit<EntryInputDto, 'id'> & { readonly revision: number };

/** A failure as the admin API reports it: the body of every non-2xx response. */
export interface ErrorDto {
  readonly error: { readonly code: ErrorCode; readonly message: string };
}

/** One item's outcome in a batch create: the entry, or why it was not created. */
export type EntryResultDto = { readonly entry: EntryDto } | ErrorDto;

/** The response of `POST /v1/entries/batch`, one result per item in request order. */
export interface EntryBatchDto {
  readonly results: readonly EntryResultDto[];
}

/** A page of entries. */
export interface EntryPageDto {
  readonly entries: readonly EntryDto[];
  readonly nextPageToken?: string;
}

/** An attested agent. */
export interface AgentDto {
  readonly spiffeId: string;
  readonly attestationType: string;
  readonly selectors: readonly SelectorDto[];
  readonly certSerialNumber: string;
  readonly certNotAfter: string;
  readonly banned: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** A page of agents. */
export interface AgentPageDto {
  readonly agents: readonly AgentDto[];
  readonly nextPageToken?: string;
}

/** The response of `POST /v1/join-tokens`: the only place the token is ever shown. */
export interface JoinTokenDto {
  readonly token: string;
  /** The SPIFFE ID the agent that presents the token attests as. */
  readonly agentSpiffeId: string;
  readonly expiresAt: string;
}

/** A trust domain's bundle: its SPIFFE bundle document (JWKS) as text, ready for `parseBundle`. */
export interface BundleDto {
  readonly trustDomain: string;
  readonly document: string;
}

/** The bundles the server holds: its own first, then the federated ones by trust domain. */
export interface BundleListDto {
  readonly bundles: readonly BundleDto[];
}

/** The response of `POST /v1/x509/mint`: the SVID chain and the bundle, as PEM. */
export interface X509MintDto {
  readonly spiffeId: string;
  /** The SVID, then intermediates up to but excluding the bundle's root. */
  readonly certChain: string;
  /** The trust domain's X.509 authorities. */
  readonly bundle: string;
  readonly expiresAt: string;
}

/** The response of `POST /v1/jwt/mint`. */
export interface JwtMintDto {
  readonly spiffeId: string;
  readonly token: string;
  readonly expiresAt: string;
}

/** One signing authority (public parts only). */
export interface AuthorityDto {
  readonly id: string;
  readonly kind: 'x509' | 'jwt';
  readonly status: string;
  readonly keyType: string;
  readonly issuedAt: string;
  readonly notAfter: string;
  /** X.509 authorities under an upstream: the upstream signer's subject key ID. */
  readonly upstreamAuthorityId?: string;
}

/** The authorities of one kind, oldest first, with the ids of the active, prepared and old ones. */
export interface AuthorityListDto {
  readonly authorities: readonly AuthorityDto[];
  readonly active?: string;
  readonly prepared?: string;
  readonly old?: string;
}

/** The response of every authority operation: the authority it changed. */
export interface AuthorityChangeDto {
  readonly authority: AuthorityDto;
}

/** The response of `GET /v1/health`. */
export interface HealthDto {
  readonly status: 'ok';
  readonly trustDomain: string;
}

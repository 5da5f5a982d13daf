import type { SecretCapability } from '@parley/api';

/** Who is asking: a workload (by SPIFFE ID) or an administrator (admin socket or admin entry). */
export type SecretCaller =
  | { readonly kind: 'workload'; readonly spiffeId: string }
  | { readonly kind: 'admin'; readonly name: string };

/** A secret's data: a JSON object. */
export type SecretData = Readonly<Record<string, unknown>>;

/** One version's state (never its value). */
export interface VersionMetadata {
  readonly version: number;
  readonly createdTime: number;
  readonly deletionTime: number | undefined;
  readonly destroyed: boolean;
}

/** A secret's metadata: settings, versions and rotation staging. */
export interface SecretMetadata {
  readonly path: string;
  readonly currentVersion: number;
  readonly oldestVersion: number;
  readonly maxVersions: number;
  readonly casRequired: boolean;
  readonly deleteVersionAfterMs: number;
  readonly customMetadata: Readonly<Record<string, string>>;
  readonly createdTime: number;
  readonly updatedTime: number;
  readonly versions: readonly VersionMetadata[];
  readonly staging: {
    readonly current: number;
    readonly previous?: number;
    readonly previousValidUntil?: number;
  };
}

/** A refused request (already audited). */
export type Denied = { readonly kind: 'denied' };

/** The outcome of reading a version. */
export type ReadOutcome =
  | Denied
  | { readonly kind: 'not-found' }
  | {
      readonly kind: 'ok';
      readonly data: SecretData;
      readonly version: VersionMetadata;
      readonly customMetadata: Readonly<Record<string, string>>;
    }
  | {
      /** Deleted, destroyed or revoked: Vault answers 404 with the version's metadata. */
      readonly kind: 'unavailable';
      readonly version: VersionMetadata;
      readonly customMetadata: Readonly<Record<string, string>>;
    };

/** The outcome of writing a version. */
export type WriteOutcome =
  | Denied
  | {
      readonly kind: 'ok';
      readonly version: VersionMetadata;
      readonly customMetadata: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'cas-mismatch' }
  | { readonly kind: 'cas-required' }
  | { readonly kind: 'too-large' };

/** The outcome of an operation that returns nothing. */
export type SimpleOutcome = Denied | { readonly kind: 'ok' } | { readonly kind: 'not-found' };

/** Who has read which version of a rotated secret. */
export interface RotationStatus {
  readonly path: string;
  readonly current: number;
  readonly previous?: number;
  readonly previousValidUntil?: number;
  readonly consumers: readonly {
    readonly spiffeId: string;
    readonly lastReadVersion: number;
    readonly lastReadAt: number;
    readonly hasCurrent: boolean;
  }[];
}

/** Settings a metadata write may change. */
export interface MetadataSettings {
  readonly maxVersions?: number;
  readonly casRequired?: boolean;
  readonly deleteVersionAfterMs?: number;
  readonly customMetadata?: Readonly<Record<string, string>>;
}

/** A policy decision as the engine needs it (see policy/decide-secret-access.ts). */
export type AccessDecision =
  | { readonly allowed: true; readonly policy: string; readonly rule: string }
  | {
      readonly allowed: false;
      readonly reason: string;
      readonly policy?: string;
      readonly rule?: string;
    };

/** What a policy decision is asked. */
export interface AccessRequest {
  readonly spiffeId: string;
  readonly path: string;
  readonly capability: SecretCapability;
}

interface Ctx {
  readonly requestId: string;
}

/** The KV v2 engine: every operation decided by policy and audited (docs/secrets.md). */
export interface SecretEngine {
  read(
    caller: SecretCaller,
    path: string,
    opts: Ctx & { readonly version?: number },
  ): Promise<ReadOutcome>;
  write(
    caller: SecretCaller,
    path: string,
    data: SecretData,
    opts: Ctx & { readonly cas?: number },
  ): Promise<WriteOutcome>;
  deleteLatest(caller: SecretCaller, path: string, opts: Ctx): Promise<SimpleOutcome>;
  deleteVersions(
    caller: SecretCaller,
    path: string,
    versions: readonly number[],
    opts: Ctx,
  ): Promise<SimpleOutcome>;
  undeleteVersions(
    caller: SecretCaller,
    path: string,
    versions: readonly number[],
    opts: Ctx,
  ): Promise<SimpleOutcome>;
  destroyVersions(
    caller: SecretCaller,
    path: string,
    versions: readonly number[],
    opts: Ctx,
  ): Promise<SimpleOutcome>;
  readMetadata(
    caller: SecretCaller,
    path: string,
    opts: Ctx,
  ): Promise<
    | Denied
    | { readonly kind: 'not-found' }
    | { readonly kind: 'ok'; readonly metadata: SecretMetadata }
  >;
  writeMetadata(
    caller: SecretCaller,
    path: string,
    settings: MetadataSettings,
    opts: Ctx,
  ): Promise<SimpleOutcome>;
  deleteMetadata(caller: SecretCaller, path: string, opts: Ctx): Promise<SimpleOutcome>;
  list(
    caller: SecretCaller,
    folder: string,
    opts: Ctx,
  ): Promise<
    Denied | { readonly kind: 'not-found' } | { readonly kind: 'ok'; readonly keys: string[] }
  >;
  /** Makes a new version current and keeps the previous one readable for `graceMs` (admin). */
  rotate(
    caller: SecretCaller,
    path: string,
    opts: Ctx & {
      readonly graceMs: number;
      /** The next version's data from the current one (a database login is changed here). */
      readonly produce: (current: SecretData | undefined) => Promise<SecretData>;
    },
  ): Promise<RotationStatus>;
  rotationStatus(path: string): Promise<RotationStatus | undefined>;
  revokePrevious(caller: SecretCaller, path: string, opts: Ctx): Promise<SimpleOutcome>;
  /** Revokes every previous version whose grace has ended; returns how many. */
  finishExpiredGraces(): Promise<number>;
  /** Re-wraps every data key under the active key-encryption key. */
  rewrap(caller: SecretCaller, opts: Ctx): Promise<{ rewrapped: number }>;
}

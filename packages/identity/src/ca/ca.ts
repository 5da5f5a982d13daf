import { type KeyObject, createPublicKey } from 'node:crypto';
import {
  type Bundle,
  type Clock,
  type Duration,
  JwtSvidMinter,
  type KeyType,
  type MintedJwtSvid,
  ParleyError,
  type Signer,
  type SpiffeId,
  type TrustDomain,
  X509Minter,
  bundleSet,
  durationMs,
  generateKey,
  invalidArgument,
  mintSelfSignedRoot,
  parseCertificate,
  sleep as sleepFor,
  spiffeIdFromSegments,
  verifyJwtSvid,
  verifyX509Svid,
} from '@parley/core';
import type { KeyManager } from '../key-manager/key-manager.js';
import { assembleBundle } from './assemble-bundle.js';
import type { AuthorityJournal } from './authority-journal.js';
import {
  type AuthorityRefusal,
  type AuthoritySlots,
  type Transition,
  activateAuthority,
  authoritySlots,
  describeRefusal,
  normalizeAuthorities,
  prepareAuthority,
  retireAuthority,
  revokeAuthority,
  taintAuthority,
} from './authority-lifecycle.js';
import {
  type AuthorityKind,
  type AuthorityRecord,
  type JwtAuthorityRecord,
  type X509AuthorityRecord,
  isBundled,
} from './authority-record.js';
import { randomKeyId } from './random-key-id.js';
import { type RotationAction, nextRotationCheck, planRotation } from './rotation-policy.js';
import type { UpstreamAuthority } from './upstream-authority.js';

/** The key types the CA's X.509 authorities and JWT keys may use (issue 3). */
export const CA_KEY_TYPES: readonly KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048'];
/** The default lifetime of an X.509 CA and of a JWT key (SPIRE's `ca_ttl` default). */
export const DEFAULT_CA_TTL: Duration = durationMs(24 * 3_600_000);
/** The default `spiffe_refresh_hint` of the bundle. */
export const DEFAULT_REFRESH_HINT: Duration = durationMs(5 * 60_000);
/** How often `run` applies the rotation policy at the latest. */
export const DEFAULT_CHECK_INTERVAL: Duration = durationMs(10_000);

/** Key-manager names of the CA's keys: a prefix per kind and a random suffix per authority. */
const KEY_PREFIX: Readonly<Record<AuthorityKind, string>> = { x509: 'ca-x509-', jwt: 'ca-jwt-' };
const MIN_WAIT_MS = 100;

/** The CA's settings (the server config's `ca` section, parsed). */
export interface CaConfig {
  readonly trustDomain: TrustDomain;
  /** X.509 authorities: key type (default ec-p256) and CA TTL (default 24h). */
  readonly x509?: { readonly keyType?: KeyType; readonly ttl?: Duration };
  /** JWT signing keys: key type (default ec-p256) and lifetime (default: the X.509 CA TTL). */
  readonly jwt?: { readonly keyType?: KeyType; readonly ttl?: Duration };
  /** When set, every X.509 authority is an intermediate signed by it; otherwise self-signed. */
  readonly upstream?: UpstreamAuthority;
  readonly refreshHint?: Duration;
  /** The longest pause between two runs of the rotation policy in `run` (default 10s). */
  readonly checkInterval?: Duration;
}

/** Something the CA did or could not do, for logs and the audit trail (never key material). */
export type CaEvent =
  | {
      readonly type: 'authority-changed';
      readonly kind: AuthorityKind;
      readonly id: string;
      readonly status: AuthorityRecord['status'];
      readonly notAfter: number;
    }
  | {
      readonly type: 'authority-unusable';
      readonly kind: AuthorityKind;
      readonly id: string;
      readonly why: string;
    }
  | { readonly type: 'rotation-failed'; readonly error: unknown }
  | { readonly type: 'key-delete-failed'; readonly keyId: string; readonly error: unknown }
  | { readonly type: 'listener-failed'; readonly error: unknown };

/** What the CA needs from its neighbours (STYLE rule 5). */
export interface CaDeps {
  readonly keyManager: KeyManager;
  readonly journal: AuthorityJournal;
  readonly clock: Clock;
  /** Waits `ms` or rejects when `signal` aborts; core's `sleep` by default (tests advance a fake clock). */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly log?: (event: CaEvent) => void;
}

/** What subscribers learn when the bundle or an active authority changes. */
export interface CaChange {
  readonly bundle: Bundle;
  readonly activeX509AuthorityId: string | undefined;
  readonly activeJwtKeyId: string | undefined;
  /** Subject key IDs (hex) of tainted X.509 authorities: agents re-issue what they signed. */
  readonly taintedX509AuthorityIds: readonly string[];
  /** Key IDs of tainted JWT authorities: agents drop the JWT-SVIDs they signed. */
  readonly taintedJwtKeyIds: readonly string[];
}

/** The record type of each kind. */
export type AuthorityRecordOf<K extends AuthorityKind> = Extract<AuthorityRecord, { kind: K }>;

/** The outcome of a manual authority operation: the authority, or why it was refused. */
export type AuthorityResult<R> =
  | { readonly ok: true; readonly authority: R }
  | { readonly ok: false; readonly refusal: AuthorityRefusal; readonly message: string };

/** An X509-SVID to mint; the SPIFFE ID comes from the authorized entry, never from a CSR. */
export interface X509SvidParams {
  readonly spiffeId: SpiffeId;
  /** SPKI DER (e.g. from a verified CSR), or a public KeyObject. */
  readonly publicKey: Uint8Array | KeyObject;
  readonly ttl: Duration;
  readonly dnsNames?: readonly string[];
}

/** A minted certificate with the chain to present alongside it. */
export interface MintedX509 {
  /** DER: the new certificate first, then intermediates up to but excluding the bundle's root. */
  readonly certChain: readonly Uint8Array[];
  readonly expiresAt: number;
  readonly serialNumber: Uint8Array;
  /** The signing X.509 authority's id (subject key ID, hex). */
  readonly authorityId: string;
}

/** A downstream CA to mint (a `downstream: true` entry): an intermediate signing certificate. */
export interface X509CaParams {
  readonly publicKey: Uint8Array | KeyObject;
  readonly ttl: Duration;
  /** Defaults to the CA's own trust domain. */
  readonly trustDomain?: TrustDomain;
}

/** A JWT-SVID to mint. */
export interface JwtSvidParams {
  readonly spiffeId: SpiffeId;
  readonly audience: readonly string[];
  readonly ttl: Duration;
}

interface ActiveX509 {
  readonly record: X509AuthorityRecord;
  readonly minter: X509Minter;
  readonly intermediates: readonly Uint8Array[];
}

interface ActiveJwt {
  readonly record: JwtAuthorityRecord;
  readonly minter: JwtSvidMinter;
}

interface CaState {
  readonly x509: readonly X509AuthorityRecord[];
  readonly jwt: readonly JwtAuthorityRecord[];
  readonly bundle: Bundle;
  readonly activeX509: ActiveX509 | undefined;
  readonly activeJwt: ActiveJwt | undefined;
}

interface Settings {
  readonly trustDomain: TrustDomain;
  readonly x509KeyType: KeyType;
  readonly x509Ttl: Duration;
  readonly jwtKeyType: KeyType;
  readonly jwtTtl: Duration;
  readonly upstream: UpstreamAuthority | undefined;
  readonly refreshHint: Duration;
  readonly checkInterval: Duration;
}

function settingsOf(config: CaConfig): Settings {
  const x509KeyType = config.x509?.keyType ?? 'ec-p256';
  const jwtKeyType = config.jwt?.keyType ?? 'ec-p256';
  for (const [what, type] of [
    ['X.509 authority', x509KeyType],
    ['JWT authority', jwtKeyType],
  ] as const) {
    if (!CA_KEY_TYPES.includes(type))
      throw invalidArgument(`unsupported ${what} key type ${type}: use ${CA_KEY_TYPES.join(', ')}`);
  }
  const x509Ttl = config.x509?.ttl ?? DEFAULT_CA_TTL;
  const jwtTtl = config.jwt?.ttl ?? x509Ttl;
  if (x509Ttl < 1000 || jwtTtl < 1000) throw invalidArgument('CA TTLs must be at least 1s');
  return {
    trustDomain: config.trustDomain,
    x509KeyType,
    x509Ttl,
    jwtKeyType,
    jwtTtl,
    upstream: config.upstream,
    refreshHint: config.refreshHint ?? DEFAULT_REFRESH_HINT,
    checkInterval: config.checkInterval ?? DEFAULT_CHECK_INTERVAL,
  };
}

function spkiOfKey(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/**
 * The subject key of a request: a public KeyObject, or SPKI DER passed through as bytes — it comes
 * from a verified CSR (which imported it), and the minter parses its structure; importing it
 * again only to export it would double the cost of minting.
 */
function subjectPublicKey(key: Uint8Array | KeyObject): Uint8Array | KeyObject {
  if (!(key instanceof Uint8Array) && key.type !== 'public') {
    throw new TypeError('the subject key must be a public key');
  }
  return key;
}

function positiveTtl(ttl: Duration, what: string): Duration {
  if (!(ttl > 0)) throw invalidArgument(`${what} TTL must be positive`);
  return ttl;
}

/** A public key used only to mint the probe SVID that checks a freshly prepared authority. */
let probeKey: KeyObject | undefined;

/**
 * The server's certificate authority: X.509 authorities and JWT signing keys, each in two slots
 * (active and prepared) rotated by a pure policy, persisted through an AuthorityJournal, keys held
 * by a KeyManager. It mints X509-SVIDs, downstream CAs and JWT-SVIDs with the active authorities,
 * assembles the trust bundle, and carries out `parley authority x509|jwt …`.
 */
export class Ca {
  readonly #settings: Settings;
  readonly #deps: CaDeps;
  readonly #signers = new Map<string, Signer>();
  readonly #listeners = new Set<(change: CaChange) => void>();
  readonly #upstreamMinter: X509Minter | undefined;
  readonly #probeId: SpiffeId;
  #state: CaState;
  #sequence = 0;
  /** The highest sequence of records dropped from memory after they left the bundle and expired. */
  #sequenceFloor = 0;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(settings: Settings, deps: CaDeps) {
    this.#settings = settings;
    this.#deps = deps;
    const upstream = settings.upstream;
    this.#upstreamMinter =
      upstream === undefined
        ? undefined
        : new X509Minter(
            {
              signer: upstream.signer,
              certificate: upstream.chain[0] ?? fail('upstream authority has no certificate'),
              trustDomain: settings.trustDomain,
            },
            deps.clock,
          );
    this.#probeId = spiffeIdFromSegments(settings.trustDomain, 'parley', 'ca-probe');
    this.#state = this.#build([], [], undefined);
  }

  /**
   * Opens the CA: loads its authorities from the journal and their keys from the key manager
   * (a key that is missing or does not match leaves its authority unable to sign; one that fails
   * to decrypt is an error), repairs what a crash may have left, deletes orphaned keys, then
   * applies the rotation policy once, so that an active X.509 authority and JWT key exist.
   */
  static async open(config: CaConfig, deps: CaDeps): Promise<Ca> {
    const ca = new Ca(settingsOf(config), deps);
    await ca.#exclusive(() => ca.#load());
    await ca.rotate();
    return ca;
  }

  /** The trust domain this CA serves. */
  get trustDomain(): TrustDomain {
    return this.#settings.trustDomain;
  }

  /** The trust domain's bundle as it stands. */
  bundle(): Bundle {
    return this.#state.bundle;
  }

  /** Every X.509 authority the CA still knows, oldest first (`parley authority x509 show`). */
  x509Authorities(): readonly X509AuthorityRecord[] {
    return this.#state.x509;
  }

  /** Every JWT authority the CA still knows, oldest first (`parley authority jwt show`). */
  jwtAuthorities(): readonly JwtAuthorityRecord[] {
    return this.#state.jwt;
  }

  /** The active, prepared and latest old authority of a kind. */
  slots<K extends AuthorityKind>(kind: K): AuthoritySlots<AuthorityRecordOf<K>> {
    return authoritySlots(this.#records(kind));
  }

  /** The ids of tainted authorities of a kind (X.509: subject key IDs in hex; JWT: key IDs). */
  taintedAuthorityIds(kind: AuthorityKind): readonly string[] {
    return this.#records(kind)
      .filter((r) => r.status === 'tainted')
      .map((r) => r.id);
  }

  /** Subscribes to changes of the bundle or of an active authority; returns the unsubscriber. */
  onChange(listener: (change: CaChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Mints an X509-SVID with the active X.509 authority; its lifetime is capped by the authority's.
   * The chain is the leaf, then intermediates up to but excluding the bundle's root.
   */
  async mintX509Svid(params: X509SvidParams): Promise<MintedX509> {
    const active = this.#activeX509();
    const minted = await active.minter.mintSvid({
      spiffeId: params.spiffeId,
      publicKey: subjectPublicKey(params.publicKey),
      ttl: positiveTtl(params.ttl, 'X509-SVID'),
      ...(params.dnsNames === undefined ? {} : { dnsNames: params.dnsNames }),
    });
    return {
      certChain: [minted.der, ...active.intermediates],
      expiresAt: minted.notAfter,
      serialNumber: minted.serialNumber,
      authorityId: active.record.id,
    };
  }

  /** Mints an intermediate CA certificate for a downstream server with the active authority. */
  async mintX509Ca(params: X509CaParams): Promise<MintedX509> {
    const active = this.#activeX509();
    const minted = await active.minter.mintSigningCertificate({
      trustDomain: params.trustDomain ?? this.#settings.trustDomain,
      publicKey: subjectPublicKey(params.publicKey),
      ttl: positiveTtl(params.ttl, 'X.509 CA'),
    });
    return {
      certChain: [minted.der, ...active.intermediates],
      expiresAt: minted.notAfter,
      serialNumber: minted.serialNumber,
      authorityId: active.record.id,
    };
  }

  /** Mints a JWT-SVID with the active JWT key; its expiry is capped by the key's. */
  async mintJwtSvid(params: JwtSvidParams): Promise<MintedJwtSvid> {
    const active = this.#state.activeJwt;
    if (active === undefined)
      throw new ParleyError('unavailable', 'the CA has no active JWT authority');
    if (!params.spiffeId.memberOf(this.#settings.trustDomain)) {
      throw invalidArgument(
        `${params.spiffeId.toString()} is not in trust domain ${this.#settings.trustDomain.name}`,
      );
    }
    return active.minter.mint({
      spiffeId: params.spiffeId,
      audience: params.audience,
      ttl: positiveTtl(params.ttl, 'JWT-SVID'),
    });
  }

  /** Prepares a new authority of `kind` now (replacing a prepared one); it joins the bundle. */
  async prepare<K extends AuthorityKind>(kind: K): Promise<AuthorityResult<AuthorityRecordOf<K>>> {
    return this.#exclusive(async () => {
      const record = await this.#prepareRecord(kind);
      return this.#abandonOnFailure(record, () =>
        this.#commitResult(
          kind,
          record.id,
          prepareAuthority(this.#records(kind), record, this.#nextSequence()),
        ),
      );
    });
  }

  /** Activates the prepared authority of `kind` (which must be `id`, when given). */
  async activate<K extends AuthorityKind>(
    kind: K,
    id?: string,
  ): Promise<AuthorityResult<AuthorityRecordOf<K>>> {
    return this.#exclusive(async () => {
      const records = this.#records(kind);
      const target = id ?? records.find((r) => r.status === 'prepared')?.id ?? '';
      const now = this.#deps.clock.now();
      return this.#commitResult(
        kind,
        target,
        activateAuthority(records, id, now, this.#nextSequence()),
      );
    });
  }

  /** Taints an old authority of `kind`: agents must re-issue what it signed. */
  async taint<K extends AuthorityKind>(
    kind: K,
    id: string,
  ): Promise<AuthorityResult<AuthorityRecordOf<K>>> {
    return this.#exclusive(async () =>
      this.#commitResult(kind, id, taintAuthority(this.#records(kind), id, this.#nextSequence())),
    );
  }

  /** Revokes a tainted authority of `kind`: it leaves the bundle. */
  async revoke<K extends AuthorityKind>(
    kind: K,
    id: string,
  ): Promise<AuthorityResult<AuthorityRecordOf<K>>> {
    return this.#exclusive(async () => {
      const records = this.#records(kind);
      const transition = revokeAuthority(records, id, this.#nextSequence());
      if (transition.ok && kind === 'x509' && this.#sharesRoot(id))
        return this.#refused(kind, { reason: 'upstream-authority', id });
      return this.#commitResult(kind, id, transition);
    });
  }

  /**
   * Applies the rotation policy once to both kinds: retires expired authorities, prepares and
   * activates as the schedule says. Both kinds are attempted even if one fails.
   */
  async rotate(): Promise<void> {
    await this.#exclusive(async () => {
      const errors: unknown[] = [];
      for (const kind of ['x509', 'jwt'] as const) {
        try {
          await this.#rotateKind(kind);
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, 'X.509 and JWT rotation failed');
    });
  }

  /**
   * Runs the rotation policy until `signal` aborts (STYLE rule 4): at each threshold the policy
   * names, and at least every `checkInterval`. A failed rotation is logged and retried.
   */
  async run(signal: AbortSignal): Promise<void> {
    const sleep = this.#deps.sleep ?? sleepFor;
    const interval = this.#settings.checkInterval;
    while (!signal.aborted) {
      let wait: number = interval;
      try {
        await this.rotate();
        const now = this.#deps.clock.now();
        const next = Math.min(
          nextRotationCheck(this.#state.x509, now) ?? Infinity,
          nextRotationCheck(this.#state.jwt, now) ?? Infinity,
        );
        wait = Math.max(MIN_WAIT_MS, Math.min(interval, next - now));
      } catch (error) {
        this.#log({ type: 'rotation-failed', error });
      }
      try {
        await sleep(wait, signal);
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
    }
  }

  // ---- internals ----

  #records<K extends AuthorityKind>(kind: K): readonly AuthorityRecordOf<K>[] {
    return (
      kind === 'x509' ? this.#state.x509 : this.#state.jwt
    ) as readonly AuthorityRecordOf<K>[];
  }

  #activeX509(): ActiveX509 {
    const active = this.#state.activeX509;
    if (active === undefined)
      throw new ParleyError('unavailable', 'the CA has no active X.509 authority');
    return active;
  }

  #nextSequence(): number {
    this.#sequence += 1;
    return this.#sequence;
  }

  #log(event: CaEvent): void {
    try {
      this.#deps.log?.(event);
    } catch {
      // A failing logger must not break the CA.
    }
  }

  /** Runs `fn` after every operation queued before it: transitions never interleave. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** True when revoking X.509 authority `id` would leave its root in the bundle anyway. */
  #sharesRoot(id: string): boolean {
    const records = this.#state.x509;
    const target = records.find((r) => r.id === id);
    const root = target?.certChain[target.certChain.length - 1];
    if (target?.upstreamAuthorityId === undefined || root === undefined) return false;
    return records.some((r) => {
      const other = r.certChain[r.certChain.length - 1];
      return (
        r.id !== id &&
        isBundled(r.status) &&
        other !== undefined &&
        Buffer.compare(other, root) === 0
      );
    });
  }

  #refused<R>(kind: AuthorityKind, refusal: AuthorityRefusal): AuthorityResult<R> {
    return { ok: false, refusal, message: describeRefusal(kind, refusal) };
  }

  async #commitResult<K extends AuthorityKind>(
    kind: K,
    id: string,
    transition: Transition<AuthorityRecordOf<K>>,
  ): Promise<AuthorityResult<AuthorityRecordOf<K>>> {
    if (!transition.ok) return this.#refused(kind, transition.refusal);
    await this.#commit(kind, transition);
    // From the transition, not the state: an expired authority just revoked is already dropped.
    const authority = transition.changed.find((r) => r.id === id);
    if (authority === undefined) throw new Error(`authority ${id} vanished after its transition`);
    return { ok: true, authority };
  }

  /**
   * Makes a transition durable, then visible: the changed records are saved to the journal, the
   * state is swapped whole, keys of authorities that will never sign again are deleted, and
   * subscribers are told.
   */
  async #commit(
    kind: AuthorityKind,
    transition: {
      readonly records: readonly AuthorityRecord[];
      readonly changed: readonly AuthorityRecord[];
    },
  ): Promise<void> {
    if (transition.changed.length === 0) return;
    for (const record of transition.changed) await this.#deps.journal.save(record);
    const previous = this.#state;
    const now = this.#deps.clock.now();
    const keep = (r: AuthorityRecord): boolean => {
      const drop = (r.status === 'revoked' || r.status === 'retired') && r.notAfter <= now;
      if (drop) this.#sequenceFloor = Math.max(this.#sequenceFloor, r.sequence);
      return !drop;
    };
    const records = transition.records;
    const x509 = kind === 'x509' ? (records as readonly X509AuthorityRecord[]) : previous.x509;
    const jwt = kind === 'jwt' ? (records as readonly JwtAuthorityRecord[]) : previous.jwt;
    this.#state = this.#build(x509.filter(keep), jwt.filter(keep), previous);
    for (const record of transition.changed) {
      this.#log({
        type: 'authority-changed',
        kind,
        id: record.id,
        status: record.status,
        notAfter: record.notAfter,
      });
      if (record.status !== 'prepared' && record.status !== 'active')
        await this.#forgetKey(record.keyId);
    }
    this.#notify(previous);
  }

  async #forgetKey(keyId: string): Promise<void> {
    this.#signers.delete(keyId);
    try {
      await this.#deps.keyManager.deleteKey(keyId);
    } catch (error) {
      this.#log({ type: 'key-delete-failed', keyId, error });
    }
  }

  #build(
    x509: readonly X509AuthorityRecord[],
    jwt: readonly JwtAuthorityRecord[],
    previous: CaState | undefined,
  ): CaState {
    const bundle = assembleBundle({
      trustDomain: this.#settings.trustDomain,
      records: [...x509, ...jwt],
      refreshHint: this.#settings.refreshHint,
      sequenceFloor: this.#sequenceFloor,
    });
    this.#sequence = Math.max(this.#sequence, Number(bundle.sequenceNumber ?? 0));
    const x509Record = x509.find((r) => r.status === 'active');
    const jwtRecord = jwt.find((r) => r.status === 'active');
    let activeX509 = previous?.activeX509;
    if (activeX509?.record.id !== x509Record?.id || activeX509?.record.keyId !== x509Record?.keyId)
      activeX509 = x509Record === undefined ? undefined : this.#activeX509For(x509Record);
    let activeJwt = previous?.activeJwt;
    if (activeJwt?.record.id !== jwtRecord?.id)
      activeJwt = jwtRecord === undefined ? undefined : this.#activeJwtFor(jwtRecord);
    return { x509, jwt, bundle, activeX509, activeJwt };
  }

  #signerOf(record: AuthorityRecord): Signer {
    const signer = this.#signers.get(record.keyId);
    if (signer === undefined)
      throw new ParleyError('internal', `no key for ${record.kind} authority ${record.id}`);
    return signer;
  }

  #activeX509For(record: X509AuthorityRecord): ActiveX509 {
    const der = record.certChain[0] ?? fail(`X.509 authority ${record.id} has no certificate`);
    const minter = new X509Minter(
      { signer: this.#signerOf(record), certificate: parseCertificate(der) },
      this.#deps.clock,
    );
    // The bundle carries the root; SVIDs carry everything below it.
    return { record, minter, intermediates: record.certChain.slice(0, -1) };
  }

  #activeJwtFor(record: JwtAuthorityRecord): ActiveJwt {
    const minter = new JwtSvidMinter(
      { signer: this.#signerOf(record), keyId: record.id, notAfter: record.notAfter },
      this.#deps.clock,
    );
    return { record, minter };
  }

  #notify(previous: CaState): void {
    const state = this.#state;
    if (
      state.bundle.sequenceNumber === previous.bundle.sequenceNumber &&
      state.activeX509?.record.id === previous.activeX509?.record.id &&
      state.activeJwt?.record.id === previous.activeJwt?.record.id
    )
      return;
    const change: CaChange = {
      bundle: state.bundle,
      activeX509AuthorityId: state.activeX509?.record.id,
      activeJwtKeyId: state.activeJwt?.record.id,
      taintedX509AuthorityIds: this.taintedAuthorityIds('x509'),
      taintedJwtKeyIds: this.taintedAuthorityIds('jwt'),
    };
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        this.#log({ type: 'listener-failed', error });
      }
    }
  }

  async #rotateKind(kind: AuthorityKind): Promise<void> {
    // Each pass applies the actions planned for this instant; a second pass retires what the
    // first deactivated, if it has expired. The bound guards against a policy that never settles.
    for (let pass = 0; pass < 4; pass++) {
      const actions = planRotation(this.#records(kind), this.#deps.clock.now());
      if (actions.length === 0) return;
      for (const action of actions) await this.#applyAction(kind, action);
    }
  }

  async #applyAction(kind: AuthorityKind, action: RotationAction): Promise<void> {
    const records: readonly AuthorityRecord[] = this.#records(kind);
    let transition: Transition<AuthorityRecord>;
    switch (action.kind) {
      case 'retire':
        transition = retireAuthority(records, action.id, this.#nextSequence());
        break;
      case 'prepare': {
        const record: AuthorityRecord = await this.#prepareRecord(kind);
        const prepared = prepareAuthority(this.#records(kind), record, this.#nextSequence());
        if (prepared.ok) await this.#abandonOnFailure(record, () => this.#commit(kind, prepared));
        return;
      }
      case 'activate':
        transition = activateAuthority(
          records,
          undefined,
          this.#deps.clock.now(),
          this.#nextSequence(),
        );
        break;
    }
    if (!transition.ok) {
      throw new ParleyError(
        'internal',
        `rotation could not ${action.kind}: ${describeRefusal(kind, transition.refusal)}`,
      );
    }
    await this.#commit(kind, transition);
  }

  /** Runs the commit of a freshly prepared record; if it fails, the new key is deleted. */
  async #abandonOnFailure<T>(record: AuthorityRecord, commit: () => Promise<T>): Promise<T> {
    try {
      return await commit();
    } catch (error) {
      if (!this.#state[record.kind].some((r) => r.id === record.id))
        await this.#forgetKey(record.keyId);
      throw error;
    }
  }

  #prepareRecord<K extends AuthorityKind>(kind: K): Promise<AuthorityRecordOf<K>> {
    return (kind === 'x509' ? this.#prepareX509() : this.#prepareJwt()) as Promise<
      AuthorityRecordOf<K>
    >;
  }

  async #withNewKey<R>(
    kind: AuthorityKind,
    keyType: KeyType,
    keyId: string,
    make: (signer: Signer) => Promise<R>,
  ): Promise<R> {
    const signer = await this.#deps.keyManager.generateKey(keyId, keyType);
    try {
      const record = await make(signer);
      this.#signers.set(keyId, signer);
      return record;
    } catch (error) {
      await this.#deps.keyManager.deleteKey(keyId).catch(() => {});
      throw error;
    }
  }

  async #prepareX509(): Promise<X509AuthorityRecord> {
    const { trustDomain, x509Ttl: ttl, x509KeyType: keyType, upstream } = this.#settings;
    const keyId = KEY_PREFIX.x509 + randomKeyId(24);
    return this.#withNewKey('x509', keyType, keyId, async (signer) => {
      const issuedAt = this.#deps.clock.now();
      const minted =
        this.#upstreamMinter === undefined
          ? await mintSelfSignedRoot(signer, { trustDomain, ttl }, this.#deps.clock)
          : await this.#upstreamMinter.mintSigningCertificate({
              trustDomain,
              publicKey: signer.publicKey,
              ttl,
            });
      const certificate = parseCertificate(minted.der);
      const id = Buffer.from(
        certificate.subjectKeyId ?? fail('minted CA certificate has no subject key ID'),
      ).toString('hex');
      const record: X509AuthorityRecord = {
        kind: 'x509',
        id,
        status: 'prepared',
        keyId,
        keyType,
        issuedAt,
        notAfter: minted.notAfter,
        certChain: [minted.der, ...(upstream?.chain.map((c) => c.raw) ?? [])],
        ...(upstream === undefined ? {} : { upstreamAuthorityId: upstream.id }),
        sequence: 0,
      };
      await this.#probeX509(record, signer);
      return record;
    });
  }

  /** Validates what is minted (STYLE rule 3): a probe SVID must verify against the new root. */
  async #probeX509(record: X509AuthorityRecord, signer: Signer): Promise<void> {
    const clock = this.#deps.clock;
    const [caDer] = record.certChain;
    const root = record.certChain[record.certChain.length - 1];
    if (caDer === undefined || root === undefined) throw new Error('empty CA chain');
    probeKey ??= createPublicKey(generateKey('ec-p256'));
    const minter = new X509Minter({ signer, certificate: parseCertificate(caDer) }, clock);
    const probe = await minter.mintSvid({
      spiffeId: this.#probeId,
      publicKey: probeKey,
      ttl: durationMs(60_000),
    });
    const bundle = {
      trustDomain: this.#settings.trustDomain,
      x509Authorities: [parseCertificate(root)],
      jwtAuthorities: new Map(),
    };
    const result = verifyX509Svid(
      [probe.der, ...record.certChain.slice(0, -1)],
      bundleSet(bundle),
      clock,
    );
    if (!result.ok) {
      throw new ParleyError(
        'internal',
        `prepared X.509 authority ${record.id} does not verify: ${result.reason}`,
      );
    }
  }

  async #prepareJwt(): Promise<JwtAuthorityRecord> {
    const { trustDomain, jwtTtl, jwtKeyType: keyType } = this.#settings;
    const kid = randomKeyId();
    const keyId = KEY_PREFIX.jwt + kid;
    return this.#withNewKey('jwt', keyType, keyId, async (signer) => {
      const issuedAt = this.#deps.clock.now();
      const notAfter = issuedAt + jwtTtl;
      const minter = new JwtSvidMinter({ signer, keyId: kid, notAfter }, this.#deps.clock);
      const audience = ['parley-ca-probe'];
      const probe = await minter.mint({
        spiffeId: this.#probeId,
        audience,
        ttl: durationMs(60_000),
      });
      const bundle = {
        trustDomain,
        x509Authorities: [],
        jwtAuthorities: new Map([[kid, signer.publicKey]]),
      };
      const result = verifyJwtSvid(probe.token, bundleSet(bundle), audience, this.#deps.clock);
      if (!result.ok) {
        throw new ParleyError(
          'internal',
          `prepared JWT authority ${kid} does not verify: ${result.reason}`,
        );
      }
      return {
        kind: 'jwt',
        id: kid,
        status: 'prepared',
        keyId,
        keyType,
        issuedAt,
        notAfter,
        publicKey: spkiOfKey(signer.publicKey),
        sequence: 0,
      };
    });
  }

  async #load(): Promise<void> {
    const loaded = await this.#deps.journal.load();
    for (const r of loaded) this.#sequence = Math.max(this.#sequence, r.sequence);
    for (const record of loaded) {
      if (record.status !== 'prepared' && record.status !== 'active') continue;
      // A key that fails to decrypt is an error (a wrong key-encryption key must not make the
      // CA discard its authorities); a missing or mismatched one leaves the authority unusable.
      const signer = await this.#deps.keyManager.getKey(record.keyId);
      const why =
        signer === undefined
          ? 'its key is missing from the key manager'
          : Buffer.compare(spkiOfKey(signer.publicKey), this.#publicKeyOf(record)) !== 0
            ? 'its key in the key manager does not match it'
            : undefined;
      if (why === undefined && signer !== undefined) this.#signers.set(record.keyId, signer);
      else
        this.#log({ type: 'authority-unusable', kind: record.kind, id: record.id, why: why ?? '' });
    }
    const usable = (r: AuthorityRecord) => this.#signers.has(r.keyId);
    const repair = async <R extends AuthorityRecord>(
      records: readonly R[],
    ): Promise<readonly R[]> => {
      const repaired = normalizeAuthorities(records, usable, this.#nextSequence());
      if (!repaired.ok) return records;
      for (const record of repaired.changed) await this.#deps.journal.save(record);
      return repaired.records;
    };
    const x509 = await repair(loaded.filter((r): r is X509AuthorityRecord => r.kind === 'x509'));
    const jwt = await repair(loaded.filter((r): r is JwtAuthorityRecord => r.kind === 'jwt'));
    // Only the prepared and active authorities keep their keys; the others never sign again.
    for (const r of [...x509, ...jwt]) {
      if (r.status !== 'prepared' && r.status !== 'active') this.#signers.delete(r.keyId);
    }
    this.#state = this.#build(x509, jwt, undefined);
    for (const key of await this.#deps.keyManager.listKeys()) {
      const ours = key.id.startsWith(KEY_PREFIX.x509) || key.id.startsWith(KEY_PREFIX.jwt);
      if (ours && !this.#signers.has(key.id)) await this.#forgetKey(key.id);
    }
  }

  #publicKeyOf(record: AuthorityRecord): Uint8Array {
    if (record.kind === 'jwt') return record.publicKey;
    const der = record.certChain[0] ?? fail(`X.509 authority ${record.id} has no certificate`);
    return parseCertificate(der).subjectPublicKeyInfo;
  }
}

function fail(message: string): never {
  throw new ParleyError('internal', message);
}

import { type KeyObject, createHash, randomBytes } from 'node:crypto';
import { type Clock, type KeyType, type Signer, ecdsaDerToJose } from '@parley/core';
import {
  type Database,
  type StoredSigningKey,
  deleteSigningKey,
  insertSigningKey,
  listPublishedSigningKeys,
  listServerSigningKeys,
  setSigningKeyPeriod,
} from '@parley/store';

/** The JWS algorithms the token server signs with: ES256 by default, RS256 optional. */
export type SigningAlgorithm = 'ES256' | 'RS256';

/** A JWK of a published verification key (RFC 7517 §4, `use: sig`). */
export interface PublishedJwk {
  readonly kty: string;
  readonly kid: string;
  readonly use: 'sig';
  readonly alg: SigningAlgorithm;
  readonly [member: string]: string;
}

/** The rotation schedule. */
export interface SigningKeySchedule {
  readonly alg: SigningAlgorithm;
  /** How long a key signs. */
  readonly activeMs: number;
  /** How long before it signs a key is published (so validators' JWKS caches hold it in time). */
  readonly overlapMs: number;
  /** The longest lifetime of a token: a key stays published this long after it stops signing. */
  readonly maxTokenTtlMs: number;
}

/** Where this replica's private keys live (the server's key manager): they never leave it. */
export interface PrivateKeyStore {
  generateKey(id: string, type: KeyType): Promise<Signer>;
  getKey(id: string): Promise<Signer | undefined>;
  deleteKey(id: string): Promise<boolean>;
}

/** A key this replica signs with. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly activeFrom: number;
  readonly activeUntil: number;
  /** Signs a JWS signing input; the signature in JWS form (R||S for ECDSA). */
  sign(input: Uint8Array): Promise<Uint8Array>;
}

/** A signing period to create. */
export interface KeyWindow {
  readonly activeFrom: number;
  readonly activeUntil: number;
}

/** The kid of a key: RFC 7638 thumbprint of its public JWK (base64url SHA-256). */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string {
  // RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace.
  const members = jwk['kty'] === 'EC' ? ['crv', 'kty', 'x', 'y'] : ['e', 'kty', 'n'];
  const canonical = `{${members.map((m) => `"${m}":${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}

/**
 * The signing periods to create at `now` given a replica's keys: one active now when none is,
 * and the next one once the last ends within `overlapMs` (so it is published that long before it
 * signs). Pure: the schedule's whole logic.
 */
export function planSigningKeys(
  keys: readonly KeyWindow[],
  now: number,
  schedule: Pick<SigningKeySchedule, 'activeMs' | 'overlapMs'>,
): KeyWindow[] {
  const { activeMs, overlapMs } = schedule;
  const windows = [...keys];
  const plan: KeyWindow[] = [];
  if (!windows.some((k) => k.activeFrom <= now && now < k.activeUntil)) {
    const w = { activeFrom: now, activeUntil: now + activeMs };
    windows.push(w);
    plan.push(w);
  }
  const last = Math.max(...windows.map((k) => k.activeUntil));
  if (last - overlapMs <= now) plan.push({ activeFrom: last, activeUntil: last + activeMs });
  return plan;
}

const KEY_TYPE: Readonly<Record<SigningAlgorithm, KeyType>> = {
  ES256: 'ec-p256',
  RS256: 'rsa-2048',
};

/** The published JWK of a public key: its members, an RFC 7638 kid, `use: sig` and `alg`. */
export function publishedJwk(publicKey: KeyObject, alg: SigningAlgorithm): PublishedJwk {
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  const kty = jwk['kty'] as string;
  const members =
    kty === 'EC'
      ? { crv: jwk['crv'] as string, x: jwk['x'] as string, y: jwk['y'] as string }
      : { n: jwk['n'] as string, e: jwk['e'] as string };
  const unsigned = { kty, ...members };
  return { ...unsigned, kid: jwkThumbprint(unsigned), use: 'sig', alg };
}

function signingKey(row: StoredSigningKey, signer: Signer): SigningKey {
  const alg = row.alg as SigningAlgorithm;
  return {
    kid: row.kid,
    alg,
    activeFrom: row.activeFrom,
    activeUntil: row.activeUntil,
    sign:
      alg === 'ES256'
        ? async (input) => ecdsaDerToJose(await signer.sign(input), 32)
        : (input) => signer.sign(input),
  };
}

/**
 * The token server's signing keys under a rotation schedule (docs/tokens.md). Each server
 * replica has its own keys, created in its key manager; their public JWKs and periods are in the
 * datastore, so every replica publishes every replica's keys. A key is published `overlapMs`
 * before it signs, signs for `activeMs`, and stays published `maxTokenTtlMs` after, so every
 * token it signed verifies until it expires. `advance` applies the schedule; the rest reads what
 * it loaded.
 */
export class TokenSigningKeys {
  #own: SigningKey[] = [];
  #published: PublishedJwk[] = [];
  #periods: ReturnType<TokenSigningKeys['periods']> = [];
  #jwksJson = '{"keys":[]}';

  constructor(
    private readonly deps: {
      readonly db: Database;
      readonly keys: PrivateKeyStore;
      readonly serverId: string;
      readonly schedule: SigningKeySchedule;
      readonly clock: Clock;
    },
  ) {
    const { activeMs, overlapMs } = deps.schedule;
    if (overlapMs >= activeMs) throw new RangeError('the overlap must be shorter than a key signs');
  }

  /** Creates, retires and drops this replica's keys as the schedule says; reloads the JWK Set. */
  async advance(): Promise<void> {
    const { db, keys, serverId, schedule, clock } = this.deps;
    const now = clock.now();
    let rows = await listServerSigningKeys(db, serverId);
    for (const row of rows.filter((r) => r.publishedUntil <= now)) {
      await keys.deleteKey(row.keyId);
      await deleteSigningKey(db, row.kid);
    }
    rows = rows.filter((r) => r.publishedUntil > now);
    const own: SigningKey[] = [];
    for (const row of rows) {
      const loaded = this.#own.find((k) => k.kid === row.kid);
      if (
        loaded !== undefined &&
        loaded.activeFrom === row.activeFrom &&
        loaded.activeUntil === row.activeUntil
      ) {
        own.push(loaded);
        continue;
      }
      const signer = await keys.getKey(row.keyId);
      if (signer !== undefined) own.push(signingKey(row, signer));
      else if (row.activeUntil > now) {
        // The private key is gone (a memory key manager restarted): the key stays published for
        // the tokens it signed, but signs no more; the plan below replaces it.
        await setSigningKeyPeriod(db, row.kid, row.activeFrom, Math.max(row.activeFrom, now));
      }
    }
    const windows = own.map((k) => ({ activeFrom: k.activeFrom, activeUntil: k.activeUntil }));
    for (const w of planSigningKeys(windows, now, schedule)) {
      own.push(await this.#create(w));
    }
    this.#own = own.sort((a, b) => a.activeFrom - b.activeFrom);
    const published = await listPublishedSigningKeys(db, now);
    this.#published = published.map((r) => JSON.parse(r.publicJwk) as PublishedJwk);
    this.#periods = published.map((r) => ({
      kid: r.kid,
      alg: r.alg,
      serverId: r.serverId,
      activeFrom: r.activeFrom,
      activeUntil: r.activeUntil,
    }));
    this.#jwksJson = JSON.stringify({ keys: this.#published });
  }

  /**
   * A forced rotation: the current key stops signing and the next one starts, once it has been
   * published for `publishLeadMs` (so validators' cached JWK Sets hold it): at once when the
   * next key has been out that long, else at the time it will have. With no next key, one is
   * made and published now. Tokens of the old key stay verifiable until they expire. Returns
   * when the switch happens.
   */
  async rotate(publishLeadMs: number): Promise<number> {
    const { db, clock, schedule } = this.deps;
    const now = clock.now();
    const lead = Math.min(publishLeadMs, schedule.overlapMs);
    const current = this.#own.find((k) => k.activeFrom <= now && now < k.activeUntil);
    let next = this.#own.find((k) => k.activeFrom > now);
    let at: number;
    if (next === undefined) {
      at = now + lead;
      next = await this.#create({ activeFrom: at, activeUntil: at + schedule.activeMs });
    } else {
      // A next key is made within one advance of `overlap` before it signs: out since about then.
      at = Math.max(now, next.activeFrom - schedule.overlapMs + lead);
      await setSigningKeyPeriod(db, next.kid, at, next.activeUntil);
    }
    if (current !== undefined) await setSigningKeyPeriod(db, current.kid, current.activeFrom, at);
    await this.advance();
    return at;
  }

  /** The signing periods of every published key (all replicas), oldest first. */
  periods(): readonly {
    kid: string;
    alg: string;
    serverId: string;
    activeFrom: number;
    activeUntil: number;
  }[] {
    return this.#periods;
  }

  /** The key that signs at `now`. */
  current(now = this.deps.clock.now()): SigningKey {
    const key = this.#own.find((k) => k.activeFrom <= now && now < k.activeUntil);
    if (key === undefined) throw new Error('no signing key is active: advance() has not run');
    return key;
  }

  /** The published verification keys of every replica. */
  published(): readonly PublishedJwk[] {
    return this.#published;
  }

  /** The JWK Set document (RFC 7517 §5), serialized once per change. */
  jwksJson(): string {
    return this.#jwksJson;
  }

  async #create(w: KeyWindow): Promise<SigningKey> {
    const { db, keys, serverId, schedule } = this.deps;
    const keyId = `oauth-${w.activeFrom}-${randomBytes(4).toString('hex')}`;
    const signer = await keys.generateKey(keyId, KEY_TYPE[schedule.alg]);
    const jwk = publishedJwk(signer.publicKey, schedule.alg);
    const row: StoredSigningKey = {
      kid: jwk.kid,
      serverId,
      keyId,
      alg: schedule.alg,
      publicJwk: JSON.stringify(jwk),
      activeFrom: w.activeFrom,
      activeUntil: w.activeUntil,
      publishedUntil: w.activeUntil + schedule.maxTokenTtlMs,
    };
    await insertSigningKey(db, row);
    return signingKey(row, signer);
  }
}

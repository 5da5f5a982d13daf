import type { Clock } from '../clock.js';
import type { Duration } from '../config/duration.js';
import type { Signer } from '../crypto/signer.js';
import { invalidArgument } from '../errors.js';
import type { SpiffeId } from '../spiffe-id/spiffe-id.js';
import { type JwsAlgorithm, ecdsaDerToJose } from './algorithms.js';
import { encodeBase64Url } from './base64url.js';

/** What a JWT-SVID asserts: subject, audience and lifetime (JWT-SVID §3). */
export interface JwtSvidRequest {
  readonly spiffeId: SpiffeId;
  readonly audience: readonly string[];
  readonly ttl: Duration;
}

/** A minted JWT-SVID. */
export interface MintedJwtSvid {
  readonly token: string;
  readonly expiresAt: number;
  readonly issuedAt: number;
}

/** A JWT signing key: the signer and the `kid` it is published under in the bundle. */
export interface JwtAuthority {
  readonly signer: Signer;
  readonly keyId: string;
  /** The authority's own expiry: tokens never outlive it. */
  readonly notAfter?: number;
}

function algorithmOf(signer: Signer): { alg: JwsAlgorithm; size?: number } {
  switch (signer.keyType) {
    case 'ec-p256':
      return { alg: 'ES256', size: 32 };
    case 'ec-p384':
      return { alg: 'ES384', size: 48 };
    case 'rsa-2048':
    case 'rsa-4096':
      return { alg: 'RS256' };
  }
}

/**
 * Signs a JWT-SVID (JWT-SVID §2–§3): header `alg`, `kid`, `typ: JWT`; claims `sub`, `aud`, `exp`,
 * `iat`. The header is encoded once per authority.
 */
export class JwtSvidMinter {
  readonly #header: string;
  readonly #size: number | undefined;

  constructor(
    private readonly authority: JwtAuthority,
    private readonly clock: Clock,
  ) {
    const { alg, size } = algorithmOf(authority.signer);
    this.#size = size;
    this.#header = encodeBase64Url(JSON.stringify({ alg, kid: authority.keyId, typ: 'JWT' }));
  }

  /** Mints a token; the audience must hold at least one non-empty value (JWT-SVID §3.2). */
  async mint(req: JwtSvidRequest): Promise<MintedJwtSvid> {
    if (req.audience.length === 0 || req.audience.some((a) => a === '')) {
      throw invalidArgument('JWT-SVID audience must contain at least one non-empty value');
    }
    const now = Math.floor(this.clock.now() / 1000);
    let exp = now + Math.max(1, Math.floor(req.ttl / 1000));
    if (this.authority.notAfter !== undefined)
      exp = Math.min(exp, Math.floor(this.authority.notAfter / 1000));
    if (exp <= now) throw invalidArgument('JWT authority has expired; cannot mint');
    const aud = req.audience.length === 1 ? req.audience[0] : req.audience;
    const claims = encodeBase64Url(
      JSON.stringify({ aud, exp, iat: now, sub: req.spiffeId.toString() }),
    );
    const signingInput = `${this.#header}.${claims}`;
    let sig = await this.authority.signer.sign(Buffer.from(signingInput, 'latin1'));
    if (this.#size !== undefined) sig = ecdsaDerToJose(sig, this.#size);
    return {
      token: `${signingInput}.${encodeBase64Url(sig)}`,
      expiresAt: exp * 1000,
      issuedAt: now * 1000,
    };
  }
}

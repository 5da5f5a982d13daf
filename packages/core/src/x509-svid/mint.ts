import { type KeyObject, createHash, randomFillSync } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Duration } from '../config/duration.js';
import { DerReader } from '../der/decode.js';
import {
  DER_NULL,
  Tag,
  derBitString,
  derBoolean,
  derContext,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derSmallInteger,
  derString,
  derTime,
  derUnsignedInteger,
} from '../der/encode.js';
import { Oid } from '../der/oids.js';
import { invalidArgument } from '../errors.js';
import type { Signer } from '../crypto/signer.js';
import { spkiOf } from '../crypto/spki.js';
import type { SpiffeId } from '../spiffe-id/spiffe-id.js';
import type { TrustDomain } from '../spiffe-id/trust-domain.js';
import { type Certificate, parseCertificate } from './certificate.js';
import { checkDnsName } from './dns-name.js';
import { certificateSpiffeId, checkLeafProfile, signingCertificateProblem } from './profile.js';

/** How far NotBefore is backdated to tolerate clock skew between issuer and verifiers. */
export const BACKDATE_MS = 10_000;

/** A CA that signs: its signer and its certificate (self-signed root or intermediate). */
export interface X509Authority {
  readonly signer: Signer;
  readonly certificate: Certificate;
  /**
   * The trust domain whose SVIDs it mints; defaults to the trust domain of the certificate's
   * SPIFFE ID (an upstream CA certificate without one must name it).
   */
  readonly trustDomain?: TrustDomain;
}

/** The subject of an SVID to mint; the SPIFFE ID comes from the authorized entry, never a CSR. */
export interface X509SvidRequest {
  readonly spiffeId: SpiffeId;
  /** The subject's public key: a KeyObject or SPKI DER (e.g. from a verified CSR). */
  readonly publicKey: KeyObject | Uint8Array;
  readonly ttl: Duration;
  readonly dnsNames?: readonly string[];
}

/** A minted certificate: DER and the facts callers keep about it. */
export interface MintedCertificate {
  readonly der: Uint8Array;
  readonly serialNumber: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
}

const VERSION_3 = Buffer.from([0xa0, 0x03, Tag.integer, 0x01, 0x02]);

function extension(oid: string, critical: boolean, value: Uint8Array): Buffer {
  return critical
    ? derSequence(derOid(oid), derBoolean(true), derOctetString(value))
    : derSequence(derOid(oid), derOctetString(value));
}

function keyUsageExtension(bits: number): Buffer {
  // Encode key usage bits 0..8 as a minimal BIT STRING (X.690 §11.2.2: trailing zero bits dropped).
  let last = -1;
  for (let i = 0; i < 9; i++) if (bits & (1 << i)) last = i;
  const nbytes = (last >> 3) + 1;
  const bytes = new Uint8Array(nbytes);
  for (let i = 0; i <= last; i++)
    if (bits & (1 << i)) bytes[i >> 3] = (bytes[i >> 3] ?? 0) | (0x80 >> (i & 7));
  return extension(Oid.keyUsage, true, derBitString(bytes, 7 - (last & 7)));
}

// Static extensions of every leaf: KU critical digitalSignature; EKU serverAuth+clientAuth;
// basic constraints critical with cA omitted (false).
const LEAF_KEY_USAGE = keyUsageExtension(1 << 0);
const LEAF_EXT_KEY_USAGE = extension(
  Oid.extKeyUsage,
  false,
  derSequence(derOid(Oid.serverAuth), derOid(Oid.clientAuth)),
);
const LEAF_BASIC_CONSTRAINTS = extension(Oid.basicConstraints, true, derSequence());
const LEAF_STATIC_EXTENSIONS = Buffer.concat([
  LEAF_KEY_USAGE,
  LEAF_EXT_KEY_USAGE,
  LEAF_BASIC_CONSTRAINTS,
]);
// The subject key identifier extension is a fixed header and a 20-byte SHA-1.
const SKI_HEADER = extension(
  Oid.subjectKeyIdentifier,
  false,
  derOctetString(Buffer.alloc(20)),
).subarray(0, -20);

function subjectKeyIdExtension(spki: Uint8Array): Buffer {
  return Buffer.concat([SKI_HEADER, keyIdentifier(spki)]);
}
// Signing certificates: keyCertSign + cRLSign.
const CA_KEY_USAGE = keyUsageExtension((1 << 5) | (1 << 6));

const SUBJECT_ORG = derSet(
  derSequence(derOid(Oid.organizationName), derString(Tag.utf8String, 'Parley')),
);

function signatureAlgorithm(signer: Signer): Buffer {
  switch (signer.keyType) {
    case 'ec-p256':
      return derSequence(derOid(Oid.ecdsaWithSha256));
    case 'ec-p384':
      return derSequence(derOid(Oid.ecdsaWithSha384));
    case 'rsa-2048':
    case 'rsa-4096':
      return derSequence(derOid(Oid.sha256WithRsa), DER_NULL);
  }
}

// The URI GeneralName of each SPIFFE ID, encoded once: SpiffeIds are immutable, and an agent
// renews the same identities again and again.
const URI_NAMES = new WeakMap<SpiffeId, Buffer>();

function uriName(id: SpiffeId): Buffer {
  let der = URI_NAMES.get(id);
  if (der === undefined) {
    der = derContext(6, false, Buffer.from(id.toString(), 'latin1'));
    URI_NAMES.set(id, der);
  }
  return der;
}

// Validity is encoded to the second; consecutive mints within one second share the encoding.
let lastValidity: { notBefore: number; notAfter: number; der: Buffer } = {
  notBefore: NaN,
  notAfter: NaN,
  der: Buffer.alloc(0),
};

function validity(notBefore: number, notAfter: number): Buffer {
  const nb = Math.floor(notBefore / 1000);
  const na = Math.floor(notAfter / 1000);
  if (nb !== lastValidity.notBefore || na !== lastValidity.notAfter) {
    lastValidity = {
      notBefore: nb,
      notAfter: na,
      der: derSequence(derTime(notBefore), derTime(notAfter)),
    };
  }
  return lastValidity.der;
}

const SUBJECT_WITHOUT_CN = derSequence(SUBJECT_ORG);

function subjectName(commonName: string | undefined): Buffer {
  if (commonName === undefined) return SUBJECT_WITHOUT_CN;
  return derSequence(
    SUBJECT_ORG,
    derSet(derSequence(derOid(Oid.commonName), derString(Tag.utf8String, commonName))),
  );
}

function spkiDer(key: KeyObject | Uint8Array): Uint8Array {
  if (key instanceof Uint8Array) return key;
  if (key.type === 'private')
    throw new TypeError('mint needs the subject public key, not a private key');
  return spkiOf(key);
}

/** Key identifier per RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: Uint8Array): Buffer {
  const r = new DerReader(spki, 'subjectPublicKeyInfo');
  const inner = new DerReader(
    r.expect(Tag.sequence, 'SubjectPublicKeyInfo').content,
    'subjectPublicKeyInfo',
  );
  inner.expect(Tag.sequence, 'algorithm');
  const bits = inner.expect(Tag.bitString, 'subjectPublicKey').content.subarray(1);
  return createHash('sha1').update(bits).digest();
}

const SERIAL_POOL = Buffer.allocUnsafe(16 * 256);
let serialOffset = SERIAL_POOL.length;

/** A random positive 128-bit serial number (RFC 5280 §4.1.2.2: at most 20 octets). */
function randomSerial(): Buffer {
  if (serialOffset === SERIAL_POOL.length) {
    randomFillSync(SERIAL_POOL);
    serialOffset = 0;
  }
  const serial = Buffer.from(SERIAL_POOL.subarray(serialOffset, serialOffset + 16));
  serialOffset += 16;
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40; // positive and a full 16 octets
  return serial;
}

/**
 * Mints X.509 certificates under one authority. The DER pieces that depend only on the
 * authority (issuer name, signature algorithm, authority key ID) are encoded once, so minting
 * costs little more than the signature. Every certificate is parsed back and checked against
 * its profile before it is returned (STYLE rule 3).
 */
export class X509Minter {
  readonly #authority: X509Authority;
  readonly #clock: Clock;
  readonly #sigAlg: Buffer;
  readonly #authorityKeyId: Buffer | undefined;
  readonly #trustDomain: TrustDomain;

  constructor(authority: X509Authority, clock: Clock) {
    const problem = signingCertificateProblem(authority.certificate);
    if (problem !== undefined)
      throw invalidArgument(`authority certificate cannot sign: ${problem}`);
    const id =
      authority.certificate.uris.length > 0
        ? certificateSpiffeId(authority.certificate)
        : undefined;
    const trustDomain =
      authority.trustDomain ?? (id?.ok === true ? id.spiffeId.trustDomain : undefined);
    if (trustDomain === undefined) {
      throw new TypeError('authority certificate has no SPIFFE ID: name its trust domain');
    }
    this.#trustDomain = trustDomain;
    this.#authority = authority;
    this.#clock = clock;
    this.#sigAlg = signatureAlgorithm(authority.signer);
    const keyId = authority.certificate.subjectKeyId;
    this.#authorityKeyId =
      keyId === undefined
        ? undefined
        : extension(Oid.authorityKeyIdentifier, false, derSequence(derContext(0, false, keyId)));
  }

  /** Mints a leaf X509-SVID (X509-SVID §3.1, §4), its lifetime capped by the authority's. */
  async mintSvid(req: X509SvidRequest): Promise<MintedCertificate> {
    if (!req.spiffeId.memberOf(this.#trustDomain)) {
      throw invalidArgument(
        `${req.spiffeId.toString()} is not in trust domain ${this.#trustDomain.name}`,
      );
    }
    const dnsNames = req.dnsNames ?? [];
    for (const name of dnsNames) checkDnsName(name);
    const san = derSequence(
      uriName(req.spiffeId),
      ...dnsNames.map((n) => derContext(2, false, Buffer.from(n, 'latin1'))),
    );
    const spki = spkiDer(req.publicKey);
    const extensions = [
      LEAF_STATIC_EXTENSIONS,
      subjectKeyIdExtension(spki),
      ...(this.#authorityKeyId === undefined ? [] : [this.#authorityKeyId]),
      extension(Oid.subjectAltName, false, san),
    ];
    const minted = await this.#mint(spki, req.ttl, subjectName(dnsNames[0]), extensions);
    const check = checkLeafProfile(parseCertificate(minted.der));
    if (!check.ok) throw new Error(`minted X509-SVID violates its profile: ${check.reason}`);
    return minted;
  }

  /**
   * Mints an intermediate signing certificate (X509-SVID §3.2) for another CA key in `trustDomain`,
   * e.g. a replica's, or a downstream server's in another trust domain (§3.2 allows signing
   * certificates for other trust domains); `pathLen` limits further intermediates.
   */
  async mintSigningCertificate(req: {
    readonly trustDomain: TrustDomain;
    readonly publicKey: KeyObject | Uint8Array;
    readonly ttl: Duration;
    readonly pathLen?: number;
  }): Promise<MintedCertificate> {
    const spki = spkiDer(req.publicKey);
    const minted = await this.#mint(spki, req.ttl, subjectName(req.trustDomain.name), [
      ...signingExtensions(req.trustDomain, spki, req.pathLen),
      ...(this.#authorityKeyId === undefined ? [] : [this.#authorityKeyId]),
    ]);
    const problem = signingCertificateProblem(parseCertificate(minted.der));
    if (problem !== undefined)
      throw new Error(`minted signing certificate violates its profile: ${problem}`);
    return minted;
  }

  async #mint(
    spki: Uint8Array,
    ttl: Duration,
    subject: Buffer,
    extensions: readonly Buffer[],
  ): Promise<MintedCertificate> {
    const now = this.#clock.now();
    const issuerCert = this.#authority.certificate;
    if (now < issuerCert.notBefore)
      throw invalidArgument('authority certificate is not yet valid; cannot mint');
    if (now >= issuerCert.notAfter)
      throw invalidArgument('authority certificate has expired; cannot mint');
    const notBefore = Math.max(now - BACKDATE_MS, issuerCert.notBefore);
    const notAfter = Math.min(now + ttl, issuerCert.notAfter);
    const serial = randomSerial();
    const tbs = derSequence(
      VERSION_3,
      derUnsignedInteger(serial),
      this.#sigAlg,
      issuerCert.subject,
      validity(notBefore, notAfter),
      subject,
      spki,
      derContext(3, true, derSequence(...extensions)),
    );
    const signature = await this.#authority.signer.sign(tbs);
    const der = derSequence(tbs, this.#sigAlg, derBitString(signature));
    return {
      der,
      serialNumber: serial,
      notBefore: Math.floor(notBefore / 1000) * 1000,
      notAfter: Math.floor(notAfter / 1000) * 1000,
    };
  }
}

function signingExtensions(
  td: TrustDomain,
  spki: Uint8Array,
  pathLen: number | undefined,
): Buffer[] {
  const bc =
    pathLen === undefined
      ? derSequence(derBoolean(true))
      : derSequence(derBoolean(true), derSmallInteger(pathLen));
  return [
    CA_KEY_USAGE,
    extension(Oid.basicConstraints, true, bc),
    subjectKeyIdExtension(spki),
    extension(
      Oid.subjectAltName,
      false,
      derSequence(derContext(6, false, Buffer.from(td.idString(), 'latin1'))),
    ),
  ];
}

/**
 * Mints a self-signed root CA certificate for `trustDomain` (X509-SVID §3.2: its SPIFFE ID is
 * the trust domain's, without a path).
 */
export async function mintSelfSignedRoot(
  signer: Signer,
  req: { readonly trustDomain: TrustDomain; readonly ttl: Duration; readonly pathLen?: number },
  clock: Clock,
): Promise<MintedCertificate> {
  const spki = spkiOf(signer.publicKey);
  const now = clock.now();
  const notBefore = now - BACKDATE_MS;
  const notAfter = now + req.ttl;
  const serial = randomSerial();
  const sigAlg = signatureAlgorithm(signer);
  const name = subjectName(req.trustDomain.name);
  const tbs = derSequence(
    VERSION_3,
    derUnsignedInteger(serial),
    sigAlg,
    name,
    derSequence(derTime(notBefore), derTime(notAfter)),
    name,
    spki,
    derContext(3, true, derSequence(...signingExtensions(req.trustDomain, spki, req.pathLen))),
  );
  const der = derSequence(tbs, sigAlg, derBitString(await signer.sign(tbs)));
  const problem = signingCertificateProblem(parseCertificate(der));
  if (problem !== undefined) throw new Error(`minted root violates its profile: ${problem}`);
  return {
    der,
    serialNumber: serial,
    notBefore: Math.floor(notBefore / 1000) * 1000,
    notAfter: Math.floor(notAfter / 1000) * 1000,
  };
}

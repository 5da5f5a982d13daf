import { type KeyObject, createPublicKey } from 'node:crypto';
import {
  type DerNode,
  DerReader,
  derChildren,
  derReadBitString,
  derReadBoolean,
  derReadOid,
  derReadSmallInteger,
  derReadTime,
  derReadUnsigned,
} from '../der/decode.js';
import { Tag } from '../der/encode.js';
import { Oid } from '../der/oids.js';
import { invalidArgument } from '../errors.js';

/** Key usage bits (RFC 5280 §4.2.1.3), as flags of `Certificate.keyUsage.bits`. */
export const KeyUsage = {
  digitalSignature: 1 << 0,
  contentCommitment: 1 << 1,
  keyEncipherment: 1 << 2,
  dataEncipherment: 1 << 3,
  keyAgreement: 1 << 4,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
  encipherOnly: 1 << 7,
  decipherOnly: 1 << 8,
} as const;

/** One extension as found in the certificate. */
export interface Extension {
  readonly critical: boolean;
  readonly value: Uint8Array;
}

/** A parsed X.509 v3 certificate (RFC 5280 §4.1), with the extensions SVIDs use decoded. */
export interface Certificate {
  readonly raw: Uint8Array;
  readonly tbs: Uint8Array;
  /** OID of the signature algorithm (outer and inner, which must agree). */
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
  readonly serialNumber: Uint8Array;
  /** The raw DER of the issuer and subject Names (compared byte for byte when chaining). */
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly subjectPublicKeyInfo: Uint8Array;
  readonly extensions: ReadonlyMap<string, Extension>;
  readonly basicConstraints: { readonly ca: boolean; readonly pathLen?: number } | undefined;
  readonly keyUsage: { readonly bits: number; readonly critical: boolean } | undefined;
  readonly extKeyUsage: readonly string[] | undefined;
  /** URI SANs, exactly as encoded. */
  readonly uris: readonly string[];
  readonly dnsNames: readonly string[];
  readonly subjectKeyId: Uint8Array | undefined;
  readonly authorityKeyId: Uint8Array | undefined;
  /** Critical extensions Parley does not process (RFC 5280 §4.2: such a certificate is rejected). */
  readonly unhandledCritical: readonly string[];
}

const HANDLED = new Set<string>([
  Oid.subjectKeyIdentifier,
  Oid.keyUsage,
  Oid.subjectAltName,
  Oid.basicConstraints,
  Oid.authorityKeyIdentifier,
  Oid.extKeyUsage,
]);

const SIGNATURE_ALGORITHMS = new Set<string>([
  Oid.ecdsaWithSha256,
  Oid.ecdsaWithSha384,
  Oid.ecdsaWithSha512,
  Oid.sha256WithRsa,
  Oid.sha384WithRsa,
  Oid.sha512WithRsa,
  Oid.ed25519,
]);

/** Certificates larger than this are refused before parsing. */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;

/** Parses one DER certificate strictly (RFC 5280 §4.1); throws invalid-argument on any flaw. */
export function parseCertificate(der: Uint8Array): Certificate {
  if (der.length > MAX_CERTIFICATE_BYTES) throw invalidArgument('certificate exceeds 64 KiB');
  const what = 'certificate';
  const top = new DerReader(der, what);
  const certNode = top.expect(Tag.sequence, 'Certificate');
  top.end();
  const cert = derChildren(certNode, what);
  const tbsNode = cert.expect(Tag.sequence, 'tbsCertificate');
  const outerAlg = readAlgorithm(cert.expect(Tag.sequence, 'signatureAlgorithm'));
  const signature = derReadBitString(
    cert.expect(Tag.bitString, 'signatureValue'),
    'signatureValue',
  );
  cert.end();
  if (signature.unusedBits !== 0)
    throw invalidArgument('malformed certificate: signature has unused bits');

  const tbs = derChildren(tbsNode, 'tbsCertificate');
  const versionNode = tbs.optional(0xa0);
  let version = 0;
  if (versionNode !== undefined) {
    const v = derChildren(versionNode, 'version');
    version = derReadSmallInteger(v.next(), 'version');
    v.end();
  }
  if (version !== 2) throw invalidArgument('certificate is not X.509 v3');
  const serialNumber = derReadUnsigned(tbs.next(), 'serialNumber', true);
  if (serialNumber.length > 20)
    throw invalidArgument('malformed certificate: serial number longer than 20 octets');
  const innerAlg = readAlgorithm(tbs.expect(Tag.sequence, 'signature'));
  if (innerAlg !== outerAlg) throw invalidArgument('certificate signature algorithms do not match');
  if (!SIGNATURE_ALGORITHMS.has(innerAlg))
    throw invalidArgument(`unsupported signature algorithm ${innerAlg}`);
  const issuer = tbs.expect(Tag.sequence, 'issuer').raw;
  const validity = derChildren(tbs.expect(Tag.sequence, 'validity'), 'validity');
  const notBefore = derReadTime(validity.next(), 'notBefore');
  const notAfter = derReadTime(validity.next(), 'notAfter');
  validity.end();
  const subject = tbs.expect(Tag.sequence, 'subject').raw;
  const spki = tbs.expect(Tag.sequence, 'subjectPublicKeyInfo').raw;
  tbs.optional(0x81); // issuerUniqueID
  tbs.optional(0x82); // subjectUniqueID
  const extNode = tbs.optional(0xa3);
  tbs.end();

  const extensions = new Map<string, Extension>();
  if (extNode !== undefined) {
    const wrap = derChildren(extNode, 'extensions');
    const list = derChildren(wrap.expect(Tag.sequence, 'extensions'), 'extensions');
    wrap.end();
    if (list.done) throw invalidArgument('malformed certificate: empty extensions');
    while (!list.done) {
      const ext = derChildren(list.expect(Tag.sequence, 'extension'), 'extension');
      const oid = derReadOid(ext.next(), 'extnID');
      // An explicit FALSE (a DEFAULT that DER omits) is accepted here and in basicConstraints, as
      // Go's x509 accepts it: common generators write it, and it changes no meaning.
      const critNode = ext.optional(Tag.boolean);
      const critical = critNode === undefined ? false : derReadBoolean(critNode, 'critical');
      const value = ext.expect(Tag.octetString, 'extnValue').content;
      ext.end();
      if (extensions.has(oid))
        throw invalidArgument(`certificate has a duplicate extension ${oid}`);
      extensions.set(oid, { critical, value });
    }
  }

  const san = decodeSubjectAltName(extensions.get(Oid.subjectAltName));
  return {
    raw: der,
    tbs: tbsNode.raw,
    signatureAlgorithm: innerAlg,
    signature: signature.bytes,
    serialNumber,
    issuer,
    subject,
    notBefore,
    notAfter,
    subjectPublicKeyInfo: spki,
    extensions,
    basicConstraints: decodeBasicConstraints(extensions.get(Oid.basicConstraints)),
    keyUsage: decodeKeyUsage(extensions.get(Oid.keyUsage)),
    extKeyUsage: decodeExtKeyUsage(extensions.get(Oid.extKeyUsage)),
    uris: san.uris,
    dnsNames: san.dnsNames,
    subjectKeyId: decodeOctets(extensions.get(Oid.subjectKeyIdentifier), 'subjectKeyIdentifier'),
    authorityKeyId: decodeAuthorityKeyId(extensions.get(Oid.authorityKeyIdentifier)),
    unhandledCritical: unhandledCritical(extensions),
  };
}

function unhandledCritical(extensions: ReadonlyMap<string, Extension>): string[] {
  const out: string[] = [];
  for (const [oid, e] of extensions) if (e.critical && !HANDLED.has(oid)) out.push(oid);
  return out;
}

/** The certificate's public key as a KeyObject. */
export function certificatePublicKey(cert: Certificate): KeyObject {
  return createPublicKey({
    key: Buffer.from(cert.subjectPublicKeyInfo),
    format: 'der',
    type: 'spki',
  });
}

function readAlgorithm(node: DerNode): string {
  const r = derChildren(node, 'AlgorithmIdentifier');
  const oid = derReadOid(r.next(), 'algorithm');
  const params = r.done ? undefined : r.next();
  r.end();
  // RSA PKCS#1 v1.5 carries NULL parameters; ECDSA and Ed25519 carry none (RFC 5758 §3.2, RFC 8410 §3).
  const isRsa = oid === Oid.sha256WithRsa || oid === Oid.sha384WithRsa || oid === Oid.sha512WithRsa;
  if (params !== undefined && !(isRsa && params.tag === Tag.null && params.content.length === 0)) {
    throw invalidArgument(`malformed certificate: unexpected parameters for ${oid}`);
  }
  return oid;
}

function decodeBasicConstraints(ext: Extension | undefined): Certificate['basicConstraints'] {
  if (ext === undefined) return undefined;
  const top = new DerReader(ext.value, 'basicConstraints');
  const r = derChildren(top.expect(Tag.sequence, 'BasicConstraints'), 'basicConstraints');
  top.end();
  const caNode = r.optional(Tag.boolean);
  const ca = caNode === undefined ? false : derReadBoolean(caNode, 'cA');
  const lenNode = r.optional(Tag.integer);
  r.end();
  if (lenNode === undefined) return { ca };
  if (!ca) throw invalidArgument('malformed basicConstraints: pathLenConstraint without cA');
  return { ca, pathLen: derReadSmallInteger(lenNode, 'pathLenConstraint') };
}

function decodeKeyUsage(ext: Extension | undefined): Certificate['keyUsage'] {
  if (ext === undefined) return undefined;
  const top = new DerReader(ext.value, 'keyUsage');
  const { bytes, unusedBits } = derReadBitString(top.expect(Tag.bitString, 'KeyUsage'), 'keyUsage');
  top.end();
  let bits = 0;
  const total = bytes.length * 8 - unusedBits;
  for (let i = 0; i < total && i < 9; i++) {
    if (((bytes[i >> 3] ?? 0) >> (7 - (i & 7))) & 1) bits |= 1 << i;
  }
  if (bits === 0) throw invalidArgument('malformed keyUsage: no bit set');
  return { bits, critical: ext.critical };
}

function decodeExtKeyUsage(ext: Extension | undefined): readonly string[] | undefined {
  if (ext === undefined) return undefined;
  const top = new DerReader(ext.value, 'extKeyUsage');
  const r = derChildren(top.expect(Tag.sequence, 'ExtKeyUsageSyntax'), 'extKeyUsage');
  top.end();
  const out: string[] = [];
  while (!r.done) out.push(derReadOid(r.next(), 'KeyPurposeId'));
  if (out.length === 0) throw invalidArgument('malformed extKeyUsage: empty');
  return out;
}

function decodeSubjectAltName(ext: Extension | undefined): { uris: string[]; dnsNames: string[] } {
  const uris: string[] = [];
  const dnsNames: string[] = [];
  if (ext === undefined) return { uris, dnsNames };
  const top = new DerReader(ext.value, 'subjectAltName');
  const r = derChildren(top.expect(Tag.sequence, 'GeneralNames'), 'subjectAltName');
  top.end();
  if (r.done) throw invalidArgument('malformed subjectAltName: empty');
  while (!r.done) {
    const name = r.next();
    if (name.tag === 0x86) uris.push(ia5(name.content, 'uniformResourceIdentifier'));
    else if (name.tag === 0x82) dnsNames.push(ia5(name.content, 'dNSName'));
  }
  return { uris, dnsNames };
}

function ia5(bytes: Uint8Array, what: string): string {
  for (const b of bytes)
    if (b > 0x7e || b < 0x20) throw invalidArgument(`malformed ${what}: not printable IA5`);
  // Checked printable ASCII: one code unit per byte. Bounded by the 64 KiB certificate limit.
  let text = '';
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return text;
}

function decodeOctets(ext: Extension | undefined, what: string): Uint8Array | undefined {
  if (ext === undefined) return undefined;
  const top = new DerReader(ext.value, what);
  const v = top.expect(Tag.octetString, what).content;
  top.end();
  return v;
}

function decodeAuthorityKeyId(ext: Extension | undefined): Uint8Array | undefined {
  if (ext === undefined) return undefined;
  const top = new DerReader(ext.value, 'authorityKeyIdentifier');
  const r = derChildren(
    top.expect(Tag.sequence, 'AuthorityKeyIdentifier'),
    'authorityKeyIdentifier',
  );
  top.end();
  const keyId = r.optional(0x80)?.content;
  r.optional(0xa1);
  r.optional(0x82);
  r.end();
  return keyId;
}

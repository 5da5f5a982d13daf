import { type KeyObject, createPublicKey, verify } from 'node:crypto';
import {
  DerReader,
  derChildren,
  derReadBitString,
  derReadOid,
  derReadSmallInteger,
} from '../der/decode.js';
import {
  DER_NULL,
  Tag,
  derBitString,
  derContext,
  derOid,
  derSequence,
  derSmallInteger,
} from '../der/encode.js';
import { Oid } from '../der/oids.js';
import { invalidArgument } from '../errors.js';
import type { Signer } from '../crypto/signer.js';
import { spkiOf } from '../crypto/spki.js';

/** CSRs larger than this are refused before parsing. */
export const MAX_CSR_BYTES = 16 * 1024;

const SIGNATURE_HASH: Readonly<Record<string, string>> = {
  [Oid.ecdsaWithSha256]: 'sha256',
  [Oid.ecdsaWithSha384]: 'sha384',
  [Oid.ecdsaWithSha512]: 'sha512',
  [Oid.sha256WithRsa]: 'sha256',
  [Oid.sha384WithRsa]: 'sha384',
  [Oid.sha512WithRsa]: 'sha512',
};

/** A verified PKCS#10 request: only its public key matters (identities come from entries). */
export interface CertificateRequest {
  /** SubjectPublicKeyInfo DER of the requested key. */
  readonly subjectPublicKeyInfo: Uint8Array;
}

/**
 * Parses a PKCS#10 certification request (RFC 2986) and verifies its self-signature, which proves
 * the requester holds the private key. Subject and attributes are ignored: an SVID's identity
 * comes from the authorized registration entry, never from the request.
 */
export function parseCertificateRequest(der: Uint8Array): CertificateRequest {
  const parts = readCertificateRequest(der);
  if (!verifyRequestParts(parts))
    throw invalidArgument('CSR signature does not verify with its public key');
  return { subjectPublicKeyInfo: parts.spki };
}

/** True when a request's signature verifies with its own public key (proof of possession). */
export function verifyRequestParts(parts: CertificateRequestParts): boolean {
  try {
    return verify(parts.hash, parts.signed, importSpki(parts.spki), parts.signature);
  } catch {
    return false;
  }
}

/**
 * As parseCertificateRequest, with the signature checked on libuv's thread pool, so a server
 * verifying a batch of requests uses every core.
 */
export async function verifyCertificateRequest(der: Uint8Array): Promise<CertificateRequest> {
  const { spki, hash, signed, signature } = readCertificateRequest(der);
  const ok = await new Promise<boolean>((resolve) => {
    try {
      verify(hash, signed, importSpki(spki), signature, (err, result) =>
        resolve(err === null && result),
      );
    } catch {
      resolve(false);
    }
  });
  if (!ok) throw invalidArgument('CSR signature does not verify with its public key');
  return { subjectPublicKeyInfo: spki };
}

const EC_CURVES: Readonly<Record<string, { crv: string; size: number }>> = {
  [Oid.prime256v1]: { crv: 'P-256', size: 32 },
  [Oid.secp384r1]: { crv: 'P-384', size: 48 },
};

/**
 * Imports an SPKI public key. EC keys go through JWK, which Node imports about 1.6x faster than
 * DER (an SVID server imports one key per request).
 */
function importSpki(spki: Uint8Array): KeyObject {
  const r = new DerReader(spki, 'subjectPublicKeyInfo');
  const info = derChildren(r.expect(Tag.sequence, 'SubjectPublicKeyInfo'), 'subjectPublicKeyInfo');
  const alg = derChildren(info.expect(Tag.sequence, 'algorithm'), 'algorithm');
  const algOid = derReadOid(alg.next(), 'algorithm');
  const curve =
    algOid === Oid.ecPublicKey && !alg.done
      ? EC_CURVES[derReadOid(alg.next(), 'namedCurve')]
      : undefined;
  const point = derReadBitString(
    info.expect(Tag.bitString, 'subjectPublicKey'),
    'subjectPublicKey',
  ).bytes;
  if (
    algOid === Oid.ecPublicKey &&
    curve !== undefined &&
    point.length === 1 + 2 * curve.size &&
    point[0] === 4
  ) {
    const x = Buffer.from(point.subarray(1, 1 + curve.size)).toString('base64url');
    const y = Buffer.from(point.subarray(1 + curve.size)).toString('base64url');
    return createPublicKey({ key: { kty: 'EC', crv: curve.crv, x, y }, format: 'jwk' });
  }
  return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
}

/** The parts of a PKCS#10 request its proof of possession is checked on. */
export interface CertificateRequestParts {
  readonly spki: Uint8Array;
  readonly hash: string;
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
}

/** Parses a request's structure without checking its signature (see `verifyRequestParts`). */
export function readCertificateRequest(der: Uint8Array): CertificateRequestParts {
  if (der.length > MAX_CSR_BYTES) throw invalidArgument(`CSR exceeds ${MAX_CSR_BYTES} bytes`);
  const top = new DerReader(der, 'CSR');
  const req = derChildren(top.expect(Tag.sequence, 'CertificationRequest'), 'CSR');
  top.end();
  const infoNode = req.expect(Tag.sequence, 'certificationRequestInfo');
  const alg = derChildren(req.expect(Tag.sequence, 'signatureAlgorithm'), 'CSR');
  const algOid = derReadOid(alg.next(), 'signatureAlgorithm');
  const signature = derReadBitString(req.expect(Tag.bitString, 'signature'), 'CSR signature');
  req.end();
  const info = derChildren(infoNode, 'CSR');
  if (derReadSmallInteger(info.next(), 'version') !== 0)
    throw invalidArgument('CSR version must be 1 (0)');
  info.expect(Tag.sequence, 'subject');
  const spki = info.expect(Tag.sequence, 'subjectPKInfo').raw;
  info.expect(0xa0, 'attributes');
  info.end();
  const hash = SIGNATURE_HASH[algOid];
  if (hash === undefined) throw invalidArgument(`unsupported CSR signature algorithm ${algOid}`);
  return { spki, hash, signed: infoNode.raw, signature: signature.bytes };
}

/** Creates a PKCS#10 request for the signer's key (empty subject, no attributes). */
export async function mintCertificateRequest(signer: Signer): Promise<Uint8Array> {
  const info = derSequence(
    derSmallInteger(0),
    derSequence(),
    spkiOf(signer.publicKey),
    derContext(0, true),
  );
  const alg =
    signer.keyType === 'ec-p256'
      ? derSequence(derOid(Oid.ecdsaWithSha256))
      : signer.keyType === 'ec-p384'
        ? derSequence(derOid(Oid.ecdsaWithSha384))
        : derSequence(derOid(Oid.sha256WithRsa), DER_NULL);
  return derSequence(info, alg, derBitString(await signer.sign(info)));
}

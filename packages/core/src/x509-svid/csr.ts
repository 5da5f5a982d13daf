import { createPublicKey, verify } from 'node:crypto';
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
  let ok = false;
  try {
    const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    ok = verify(hash, infoNode.raw, key, signature.bytes);
  } catch {
    ok = false;
  }
  if (!ok) throw invalidArgument('CSR signature does not verify with its public key');
  return { subjectPublicKeyInfo: spki };
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

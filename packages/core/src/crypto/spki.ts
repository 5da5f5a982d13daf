import type { KeyObject } from 'node:crypto';
import { DER_NULL, derBitString, derOid, derSequence, derUnsignedInteger } from '../der/encode.js';

// Node's DER export of a KeyObject goes through OpenSSL's encoder lookup and runs at a few
// thousand keys per second, slower than a signature; the JWK export is ~20x faster. SPKI for the
// key types Parley uses is therefore assembled from the JWK (RFC 5480 §2, RFC 3279 §2.3.1).
const EC_PREFIX: Readonly<Record<string, Buffer>> = {
  'P-256': derSequence(derOid('1.2.840.10045.2.1'), derOid('1.2.840.10045.3.1.7')),
  'P-384': derSequence(derOid('1.2.840.10045.2.1'), derOid('1.3.132.0.34')),
  'P-521': derSequence(derOid('1.2.840.10045.2.1'), derOid('1.3.132.0.35')),
};
const RSA_ALGORITHM = derSequence(derOid('1.2.840.113549.1.1.1'), DER_NULL);

/** The SubjectPublicKeyInfo DER (RFC 5280 §4.1.2.7) of a public KeyObject. */
export function spkiOf(key: KeyObject): Uint8Array {
  if (key.type !== 'public') throw new TypeError('spkiOf needs a public key');
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty === 'EC' && jwk.crv !== undefined && jwk.x !== undefined && jwk.y !== undefined) {
    const prefix = EC_PREFIX[jwk.crv];
    if (prefix !== undefined) {
      const point = Buffer.concat([
        Buffer.of(4),
        Buffer.from(jwk.x, 'base64url'),
        Buffer.from(jwk.y, 'base64url'),
      ]);
      return derSequence(prefix, derBitString(point));
    }
  }
  if (jwk.kty === 'RSA' && jwk.n !== undefined && jwk.e !== undefined) {
    const rsaKey = derSequence(
      derUnsignedInteger(Buffer.from(jwk.n, 'base64url')),
      derUnsignedInteger(Buffer.from(jwk.e, 'base64url')),
    );
    return derSequence(RSA_ALGORITHM, derBitString(rsaKey));
  }
  return key.export({ type: 'spki', format: 'der' });
}

import { type KeyObject, constants, verify } from 'node:crypto';

/** The JWS algorithms JWT-SVID §2.1 allows (RFC 7518 §3.3–3.5). */
export type JwsAlgorithm =
  'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'ES512' | 'PS256' | 'PS384' | 'PS512';

interface AlgorithmSpec {
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  readonly kind: 'rsa' | 'ec' | 'pss';
  /** The EC curve the key must be on (RFC 7518 §3.4). */
  readonly curve?: string;
}

const ALGORITHMS: Readonly<Record<JwsAlgorithm, AlgorithmSpec>> = {
  RS256: { hash: 'sha256', kind: 'rsa' },
  RS384: { hash: 'sha384', kind: 'rsa' },
  RS512: { hash: 'sha512', kind: 'rsa' },
  PS256: { hash: 'sha256', kind: 'pss' },
  PS384: { hash: 'sha384', kind: 'pss' },
  PS512: { hash: 'sha512', kind: 'pss' },
  ES256: { hash: 'sha256', kind: 'ec', curve: 'prime256v1' },
  ES384: { hash: 'sha384', kind: 'ec', curve: 'secp384r1' },
  ES512: { hash: 'sha512', kind: 'ec', curve: 'secp521r1' },
};

/** True when `alg` is one JWT-SVID allows. */
export function isJwsAlgorithm(alg: unknown): alg is JwsAlgorithm {
  return typeof alg === 'string' && Object.hasOwn(ALGORITHMS, alg);
}

/** Why `key` cannot verify `alg`, or undefined when it can (the key type must match the alg). */
export function keyAlgorithmProblem(alg: JwsAlgorithm, key: KeyObject): string | undefined {
  const spec = ALGORITHMS[alg];
  if (spec.kind === 'ec') {
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== spec.curve)
      return `key is not suitable for ${alg}`;
  } else if (key.asymmetricKeyType !== 'rsa') return `key is not suitable for ${alg}`;
  return undefined;
}

/** Verifies a JWS signature (ECDSA signatures are R||S, RFC 7518 §3.4). */
export function verifyJwsSignature(
  alg: JwsAlgorithm,
  key: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const spec = ALGORITHMS[alg];
  switch (spec.kind) {
    case 'ec':
      return verify(spec.hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    case 'rsa':
      return verify(spec.hash, data, key, signature);
    case 'pss':
      return verify(
        spec.hash,
        data,
        {
          key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        },
        signature,
      );
  }
}

/** Converts a DER ECDSA signature (RFC 3279) to JOSE's fixed-size R||S form of `size` bytes each. */
export function ecdsaDerToJose(der: Uint8Array, size: number): Uint8Array {
  // SEQUENCE { INTEGER r, INTEGER s }, each at most size+1 bytes: lengths fit one or two octets.
  let pos = 2;
  if ((der[1] ?? 0) & 0x80) pos += (der[1] ?? 0) & 0x7f;
  const out = new Uint8Array(size * 2);
  for (let part = 0; part < 2; part++) {
    const len = der[pos + 1] ?? 0;
    let int = der.subarray(pos + 2, pos + 2 + len);
    while (int.length > size && int[0] === 0) int = int.subarray(1);
    out.set(int, part * size + size - int.length);
    pos += 2 + len;
  }
  return out;
}

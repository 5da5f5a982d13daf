import {
  type JsonWebKey,
  type KeyObject,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
} from 'node:crypto';

/** The key types Parley's CAs and agents use (DESIGN §3 identity; issue 3's key types). */
export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-4096';

/** Every key type, for config validation. */
export const KEY_TYPES: readonly KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-4096'];

/** The digest used with a key type: SHA-384 for P-384, SHA-256 otherwise. */
export function hashOf(type: KeyType): 'sha256' | 'sha384' {
  return type === 'ec-p384' ? 'sha384' : 'sha256';
}

/**
 * Something that signs with a private key it may never reveal (memory, disk, a KMS). Signatures
 * are over `data` with `hashOf(keyType)`; ECDSA signatures are DER-encoded (RFC 3279 §2.2.3).
 */
export interface Signer {
  readonly keyType: KeyType;
  readonly publicKey: KeyObject;
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** The key type of a public or private KeyObject, or undefined when Parley does not use it. */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  const d = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'ec':
      return d?.namedCurve === 'prime256v1'
        ? 'ec-p256'
        : d?.namedCurve === 'secp384r1'
          ? 'ec-p384'
          : undefined;
    case 'rsa':
      return d?.modulusLength === 2048
        ? 'rsa-2048'
        : d?.modulusLength === 4096
          ? 'rsa-4096'
          : undefined;
    default:
      return undefined;
  }
}

/**
 * Generates a private key of the given type. The key leaves the generator as a JWK and is
 * re-imported: on Node 20 a KeyObject straight from generateKeyPairSync can deadlock when it is
 * exported while the garbage collector frees its key-generation job (both take one mutex).
 */
export function generateKey(type: KeyType): KeyObject {
  // @types/node 20 lacks the JWK-encoding overloads that Node 20 implements.
  const generate = generateKeyPairSync as unknown as (
    kind: string,
    options: object,
  ) => { privateKey: JsonWebKey };
  const encoding = { publicKeyEncoding: { format: 'jwk' }, privateKeyEncoding: { format: 'jwk' } };
  const { privateKey } =
    type === 'ec-p256' || type === 'ec-p384'
      ? generate('ec', { namedCurve: type === 'ec-p256' ? 'P-256' : 'P-384', ...encoding })
      : generate('rsa', { modulusLength: type === 'rsa-2048' ? 2048 : 4096, ...encoding });
  return createPrivateKey({ key: privateKey, format: 'jwk' });
}

/**
 * A Signer over a private KeyObject held in memory. With `threadpool`, signatures run on libuv's
 * thread pool: slower one at a time, but concurrent signing (a CA minting a batch) uses every
 * core; without it they run inline, fastest for one signature at a time.
 */
export function keyObjectSigner(
  privateKey: KeyObject,
  options: { threadpool?: boolean } = {},
): Signer {
  if (privateKey.type !== 'private') throw new TypeError('keyObjectSigner needs a private key');
  const keyType = keyTypeOf(privateKey);
  if (keyType === undefined) throw new TypeError('unsupported key type for a signer');
  const hash = hashOf(keyType);
  const publicKey = createPublicKey(privateKey);
  return {
    keyType,
    publicKey,
    sign: options.threadpool
      ? (data) =>
          new Promise((resolve, reject) =>
            cryptoSign(hash, data, privateKey, (err, sig) => (err ? reject(err) : resolve(sig))),
          )
      : async (data) => cryptoSign(hash, data, privateKey),
  };
}

/** Parses a PKCS#8 or SEC1/PKCS#1 private key in PEM or DER. */
export function parsePrivateKey(input: string | Uint8Array): KeyObject {
  return typeof input === 'string'
    ? createPrivateKey(input)
    : createPrivateKey({ key: Buffer.from(input), format: 'der', type: 'pkcs8' });
}

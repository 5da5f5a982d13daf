import { type KeyObject, createPublicKey } from 'node:crypto';
import {
  type Certificate,
  type Clock,
  type KeyType,
  type MintedCertificate,
  type Signer,
  X509Minter,
  generateKey,
  keyObjectSigner,
  mintSelfSignedRoot,
  parseCertificate,
  parseDuration,
  parseSpiffeId,
  parseTrustDomain,
  systemClock,
} from '@parley/core';

/** A self-signed CA minted per test with @parley/core (STYLE rule 11: PKI minted per test). */
export interface TestCa {
  readonly signer: Signer;
  readonly root: Certificate;
  readonly minter: X509Minter;
  /** Mints an X509-SVID for `spiffeId` with a fresh key; returns it with its private key. */
  mintSvid(
    spiffeId: string,
    ttl?: string,
  ): Promise<MintedCertificate & { readonly key: KeyObject }>;
}

/** Creates a test CA for `trustDomain` (default example.org) with a key of `keyType`. */
export async function makeTestCa(
  options: { trustDomain?: string; keyType?: KeyType; clock?: Clock } = {},
): Promise<TestCa> {
  const clock = options.clock ?? systemClock;
  const trustDomain = parseTrustDomain(options.trustDomain ?? 'example.org');
  const signer = keyObjectSigner(generateKey(options.keyType ?? 'ec-p256'));
  const rootDer = await mintSelfSignedRoot(
    signer,
    { trustDomain, ttl: parseDuration('24h') },
    clock,
  );
  const root = parseCertificate(rootDer.der);
  const minter = new X509Minter({ signer, certificate: root }, clock);
  return {
    signer,
    root,
    minter,
    mintSvid: async (spiffeId, ttl = '1h') => {
      const key = generateKey('ec-p256');
      const svid = await minter.mintSvid({
        spiffeId: parseSpiffeId(spiffeId),
        publicKey: createPublicKey(key),
        ttl: parseDuration(ttl),
      });
      return { ...svid, key };
    },
  };
}

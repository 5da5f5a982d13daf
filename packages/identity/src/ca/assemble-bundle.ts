import { type KeyObject, createPublicKey } from 'node:crypto';
import {
  type Bundle,
  type Certificate,
  type Duration,
  type TrustDomain,
  parseCertificate,
} from '@parley/core';
import { type AuthorityRecord, isBundled } from './authority-record.js';

/** What the trust domain's bundle is made of. */
export interface BundleInput {
  readonly trustDomain: TrustDomain;
  /** The authorities of both kinds; those not prepared, active, old or tainted are left out. */
  readonly records: readonly AuthorityRecord[];
  /** How often consumers should poll for a new bundle. */
  readonly refreshHint: Duration;
  /**
   * The lowest sequence number to publish: the highest sequence of records no longer held (the
   * sequence never goes down when history is dropped).
   */
  readonly sequenceFloor?: number;
}

/**
 * Assembles the trust domain's bundle (SPIFFE Trust Domain and Bundle §4): as X.509 authorities,
 * the root of every bundled CA (the self-signed CA itself, or the upstream root), once each, oldest
 * first; as JWT authorities, every bundled JWT key by `kid`. The sequence number is the highest
 * record sequence, so any transition (and thus any change of content) increases it.
 */
export function assembleBundle(input: BundleInput): Bundle {
  const x509Authorities: Certificate[] = [];
  const seen = new Set<string>();
  const jwtAuthorities = new Map<string, KeyObject>();
  let sequence = input.sequenceFloor ?? 0;
  const ordered = [...input.records].sort((a, b) => a.issuedAt - b.issuedAt);
  for (const r of ordered) {
    sequence = Math.max(sequence, r.sequence);
    if (!isBundled(r.status)) continue;
    if (r.kind === 'x509') {
      const root = r.certChain[r.certChain.length - 1];
      if (root === undefined) throw new TypeError(`X.509 authority ${r.id} has no certificate`);
      const key = Buffer.from(root).toString('base64');
      if (seen.has(key)) continue;
      seen.add(key);
      x509Authorities.push(parseCertificate(root));
    } else {
      jwtAuthorities.set(
        r.id,
        createPublicKey({ key: Buffer.from(r.publicKey), format: 'der', type: 'spki' }),
      );
    }
  }
  return {
    trustDomain: input.trustDomain,
    x509Authorities,
    jwtAuthorities,
    sequenceNumber: BigInt(sequence),
    refreshHint: Math.ceil(input.refreshHint / 1000),
  };
}

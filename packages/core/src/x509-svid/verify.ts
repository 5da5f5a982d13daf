import { verify } from 'node:crypto';
import type { BundleSource } from '../bundle/bundle.js';
import type { Clock } from '../clock.js';
import { Oid } from '../der/oids.js';
import type { SpiffeId } from '../spiffe-id/spiffe-id.js';
import {
  type Certificate,
  KeyUsage,
  certificatePublicKey,
  parseCertificate,
} from './certificate.js';
import { checkLeafProfile } from './profile.js';

/** A verified X509-SVID: its SPIFFE ID, the presented chain and the path to a bundle authority. */
export interface X509Svid {
  readonly spiffeId: SpiffeId;
  /** The presented certificates, leaf first. */
  readonly certificates: readonly Certificate[];
  /** The verified path: leaf, intermediates, and the bundle authority it chains to. */
  readonly path: readonly Certificate[];
  readonly expiresAt: number;
}

/** The outcome of verifying an X509-SVID. */
export type X509SvidResult = { ok: true; svid: X509Svid } | { ok: false; reason: string };

/** Chains longer than this are rejected before any signature is checked. */
export const MAX_CHAIN_LENGTH = 16;

// Signature algorithm OID → digest (null for Ed25519) and the issuer key type it needs.
const ALGORITHMS: Readonly<Record<string, { hash: string | null; keyType: string }>> = {
  [Oid.ecdsaWithSha256]: { hash: 'sha256', keyType: 'ec' },
  [Oid.ecdsaWithSha384]: { hash: 'sha384', keyType: 'ec' },
  [Oid.ecdsaWithSha512]: { hash: 'sha512', keyType: 'ec' },
  [Oid.sha256WithRsa]: { hash: 'sha256', keyType: 'rsa' },
  [Oid.sha384WithRsa]: { hash: 'sha384', keyType: 'rsa' },
  [Oid.sha512WithRsa]: { hash: 'sha512', keyType: 'rsa' },
  [Oid.ed25519]: { hash: null, keyType: 'ed25519' },
};

/** True when `parent`'s key produced `child`'s signature. */
function signedBy(child: Certificate, parent: Certificate): boolean {
  const alg = ALGORITHMS[child.signatureAlgorithm];
  if (alg === undefined) return false;
  try {
    const key = certificatePublicKey(parent);
    if (key.asymmetricKeyType !== alg.keyType) return false;
    return verify(alg.hash, child.tbs, key, child.signature);
  } catch {
    return false;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function validityProblem(cert: Certificate, now: number, what: string): string | undefined {
  if (now < cert.notBefore) return `${what} is not yet valid`;
  if (now > cert.notAfter) return `${what} has expired`;
  return undefined;
}

/** Problems that disqualify a CA certificate in a path, whatever its position. */
// RFC 5280 §6.1.4 (k), (n): issuers must be CAs allowed to sign certificates. RFC 5280 does not
// process a trust anchor's extensions, but Go's x509 does, so bundle authorities are held to the
// same rules (where go-spiffe is stricter than the spec, Parley is as strict).
function caProblem(
  cert: Certificate,
  now: number,
  below: number,
  what: string,
): string | undefined {
  const validity = validityProblem(cert, now, what);
  if (validity !== undefined) return validity;
  if (cert.extensions.has(Oid.nameConstraints))
    return `${what} has name constraints, which Parley does not support`;
  if (cert.basicConstraints?.ca !== true)
    return `${what} is not a CA (basicConstraints cA is not true)`;
  if (cert.keyUsage !== undefined && (cert.keyUsage.bits & KeyUsage.keyCertSign) === 0)
    return `${what} may not sign certificates (keyCertSign not set)`;
  if (cert.unhandledCritical.length > 0)
    return `${what} has an unhandled critical extension ${cert.unhandledCritical[0]}`;
  const pathLen = cert.basicConstraints?.pathLen;
  if (pathLen !== undefined && below > pathLen)
    return `${what} allows ${pathLen} intermediates below it, found ${below}`;
  return undefined;
}

/**
 * Verifies an X509-SVID (X509-SVID §5): the leaf rules of §5.2, then RFC 5280 path validation to
 * an X.509 authority in the bundle of the leaf's own trust domain only, using the presented
 * intermediates. Every certificate in the path must be valid at `clock`'s time.
 */
export function verifyX509Svid(
  chain: readonly Uint8Array[],
  bundles: BundleSource,
  clock: Clock,
): X509SvidResult {
  const reject = (reason: string): X509SvidResult => ({ ok: false, reason });
  if (chain.length === 0) return reject('empty certificate chain');
  if (chain.length > MAX_CHAIN_LENGTH)
    return reject(`certificate chain longer than ${MAX_CHAIN_LENGTH}`);
  let certs: Certificate[];
  try {
    certs = chain.map((der) => parseCertificate(der));
  } catch (err) {
    return reject((err as Error).message);
  }
  const leaf = certs[0] as Certificate;
  const profile = checkLeafProfile(leaf);
  if (!profile.ok) return reject(profile.reason);
  if (leaf.unhandledCritical.length > 0)
    return reject(
      `leaf certificate has an unhandled critical extension ${leaf.unhandledCritical[0]}`,
    );
  const now = clock.now();
  const leafValidity = validityProblem(leaf, now, 'leaf certificate');
  if (leafValidity !== undefined) return reject(leafValidity);

  const td = profile.spiffeId.trustDomain;
  const bundle = bundles.bundleFor(td);
  if (bundle === undefined) return reject(`no bundle found for trust domain "${td.name}"`);
  if (bundle.x509Authorities.length === 0)
    return reject(`bundle for trust domain "${td.name}" has no X.509 authorities`);

  const intermediates = certs.slice(1);
  let lastProblem = 'certificate signed by unknown authority';
  // Depth-first search for a path; `path` holds leaf..current, `below` counts intermediates under a CA.
  const search = (path: Certificate[]): Certificate[] | undefined => {
    const child = path[path.length - 1] as Certificate;
    const below = path.length - 1;
    for (const root of bundle.x509Authorities) {
      if (!bytesEqual(child.issuer, root.subject) || !signedBy(child, root)) continue;
      const problem = caProblem(root, now, below, 'authority certificate');
      if (problem === undefined) return [...path, root];
      lastProblem = problem;
    }
    if (path.length > MAX_CHAIN_LENGTH) return undefined;
    for (const candidate of intermediates) {
      if (
        path.includes(candidate) ||
        !bytesEqual(child.issuer, candidate.subject) ||
        !signedBy(child, candidate)
      )
        continue;
      const problem = caProblem(candidate, now, below, 'intermediate certificate');
      if (problem !== undefined) {
        lastProblem = problem;
        continue;
      }
      const found = search([...path, candidate]);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const path = search([leaf]);
  if (path === undefined) return reject(`could not verify leaf certificate: ${lastProblem}`);
  return {
    ok: true,
    svid: { spiffeId: profile.spiffeId, certificates: certs, path, expiresAt: leaf.notAfter },
  };
}

import {
  type Bundle,
  bundleSet,
  parseCertificate,
  fixedClock,
  formatBundle,
  parseBundle,
  parseBundleMap,
  parseSpiffeId,
  parseTrustDomain,
  verifyJwtSvid,
  verifyX509Svid,
} from '@parley/core';
import type { OracleCase } from '@parley/testing';

/** Parley's verdict on one conformance case, in the oracle's shape. */
export interface Verdict {
  readonly valid: boolean;
  readonly error?: string;
  readonly result?: Record<string, unknown>;
}

function attempt(fn: () => Record<string, unknown>): Verdict {
  try {
    return { valid: true, result: fn() };
  } catch (err) {
    return { valid: false, error: (err as Error).message };
  }
}

/** Judges a case with @parley/core, as the go-spiffe oracle judges it with go-spiffe. */
export function judge(c: OracleCase): Verdict {
  switch (c.kind) {
    case 'spiffe-id':
      return attempt(() => {
        const id = parseSpiffeId(c.input);
        return { trustDomain: id.trustDomain.name, path: id.path };
      });
    case 'trust-domain':
      return attempt(() => ({ name: parseTrustDomain(c.input).name }));
    case 'x509-svid': {
      // As the oracle does with go-spiffe's x509bundle: the authorities as given, no JWKS.
      const bundle: Bundle = {
        trustDomain: parseTrustDomain(c.bundle.trustDomain),
        x509Authorities: c.bundle.authorities.map((a) =>
          parseCertificate(Buffer.from(a, 'base64')),
        ),
        jwtAuthorities: new Map(),
      };
      const chain = c.chain.map((b) => Buffer.from(b, 'base64'));
      const r = verifyX509Svid(chain, bundleSet(bundle), fixedClock(new Date(c.now)));
      return r.ok
        ? { valid: true, result: { spiffeId: r.svid.spiffeId.toString() } }
        : { valid: false, error: r.reason };
    }
    case 'jwt-svid': {
      const bundle = parseBundle(parseTrustDomain(c.bundle.trustDomain), c.bundle.json);
      const r = verifyJwtSvid(c.token, bundleSet(bundle), c.audience, fixedClock(new Date(c.now)));
      return r.ok
        ? {
            valid: true,
            result: { spiffeId: r.svid.spiffeId.toString(), audience: r.svid.audience },
          }
        : { valid: false, error: r.reason };
    }
    case 'bundle':
      return attempt(() => {
        const b = parseBundle(parseTrustDomain(c.trustDomain), c.json);
        // Round trip: what Parley formats must parse back to the same bundle.
        const again = parseBundle(b.trustDomain, formatBundle(b));
        if (
          again.x509Authorities.length !== b.x509Authorities.length ||
          again.sequenceNumber !== b.sequenceNumber
        ) {
          throw new Error('bundle did not survive a format/parse round trip');
        }
        return {
          x509Authorities: b.x509Authorities.length,
          jwtAuthorities: [...b.jwtAuthorities.keys()].sort(),
          sequenceNumber: b.sequenceNumber?.toString() ?? null,
          refreshHint: b.refreshHint ?? null,
        };
      });
    case 'bundle-map':
      return attempt(() => ({ trustDomains: [...parseBundleMap(c.json).keys()] }));
  }
}

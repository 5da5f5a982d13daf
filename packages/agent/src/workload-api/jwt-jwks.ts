import type { Bundle } from '@parley/core';

const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;

/**
 * The JWT bundle of one trust domain as the Workload API serves it (Workload API §6.2.2): a
 * standard RFC 7517 JWK Set holding only the JWT-SVID signing keys, each with its `kid` (go-spiffe's
 * `jwtbundle.Parse` and py-spiffe require one) and no `use` or SPIFFE members, as SPIRE serves it.
 */
export function formatJwtJwks(bundle: Bundle): Buffer {
  const keys = [...bundle.jwtAuthorities].map(([kid, key]) => {
    const jwk = key.export({ format: 'jwk' });
    const out: Record<string, string> = { kid };
    for (const member of PUBLIC_MEMBERS) {
      const v = jwk[member];
      if (typeof v === 'string') out[member] = v;
    }
    return out;
  });
  return Buffer.from(JSON.stringify({ keys }));
}

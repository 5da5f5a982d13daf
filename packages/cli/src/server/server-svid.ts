import type { SecureContextOptions } from 'node:tls';
import { type Clock, bundleSet, verifyX509Svid } from '@parley/core';
import type { Ca, RotatingTlsMaterial } from '@parley/identity';

/** A verified client X509-SVID, or why it was refused. */
export type PeerSvid =
  | { readonly ok: true; readonly spiffeId: string; readonly expiresAt: number }
  | { readonly ok: false; readonly reason: string };

/** Something whose TLS certificate follows the server's SVID. */
interface SecureContextTarget {
  setSecureContext(options: SecureContextOptions): void;
}

/**
 * The server's own SVID as TLS options for an HTTPS listener: `initial` to start it with, and
 * `attach` to swap certificates into it whenever the SVID or the CA certificates rotate.
 */
export async function followServerSvid(material: RotatingTlsMaterial): Promise<{
  readonly initial: SecureContextOptions;
  attach(target: SecureContextTarget): void;
  detach(): void;
}> {
  let identity: { certificate: Buffer; privateKey: Buffer } | null = null;
  let caCerts: { caCertificate: Buffer } | null = null;
  let target: SecureContextTarget | undefined;
  const options = () =>
    identity === null
      ? undefined
      : {
          cert: identity.certificate,
          key: identity.privateKey,
          ...(caCerts !== null && { ca: caCerts.caCertificate }),
        };
  const refresh = () => {
    const o = options();
    if (o !== undefined) target?.setSecureContext(o);
  };
  const onIdentity = (i: typeof identity) => {
    identity = i;
    refresh();
  };
  const onCa = (c: typeof caCerts) => {
    caCerts = c;
    refresh();
  };
  material.addIdentityCertificateListener(onIdentity);
  material.addCaCertificateListener(onCa);
  // The material delivers its current certificates on the next tick.
  await new Promise((resolve) => setImmediate(resolve));
  const initial = options();
  if (initial === undefined) throw new Error('the server SVID is not ready');
  return {
    initial,
    attach: (t) => {
      target = t;
    },
    detach: () => {
      material.removeIdentityCertificateListener(onIdentity);
      material.removeCaCertificateListener(onCa);
    },
  };
}

const CACHE_MS = 5_000;
const CACHE_ENTRIES = 10_000;

/**
 * Verifies a client's leaf certificate as an X509-SVID of the trust domain (intermediates from
 * the CA's own authorities, never from the client). Each certificate's verdict is cached for a
 * few seconds (a connection presents the same one on every request); a CA change is seen within
 * that time.
 */
export function peerSvidVerifier(ca: Ca, clock: Clock): (leaf: Buffer) => PeerSvid {
  const cache = new Map<string, { result: PeerSvid; until: number }>();
  return (leaf) => {
    const key = leaf.toString('base64');
    const now = clock.now();
    const cached = cache.get(key);
    if (cached !== undefined && cached.until > now) return cached.result;
    const intermediates = ca.x509Authorities().flatMap((a) => a.certChain.slice(0, -1));
    const r = verifyX509Svid([leaf, ...intermediates], bundleSet(ca.bundle()), clock);
    const result: PeerSvid = r.ok
      ? { ok: true, spiffeId: r.svid.spiffeId.toString(), expiresAt: r.svid.expiresAt }
      : { ok: false, reason: r.reason };
    if (cache.size >= CACHE_ENTRIES) cache.clear();
    cache.set(key, {
      result,
      until: Math.min(now + CACHE_MS, result.ok ? result.expiresAt : now + CACHE_MS),
    });
    return result;
  };
}

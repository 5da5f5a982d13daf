import { createHash } from 'node:crypto';
import { type StatusObject, status } from '@grpc/grpc-js';
import type {
  JwtBundlesResponse,
  X509BundlesResponse,
  X509SvidMessage,
  X509SvidResponse,
} from '@parley/api';
import type { Bundle } from '@parley/core';
import { grpcStatus } from './grpc-status.js';
import { formatJwtJwks } from './jwt-jwks.js';
import type { WorkloadApiLog, WorkloadView, WorkloadX509Svid } from './workload-api-deps.js';

/** The three streaming RPCs, each a full-state projection of the caller's view. */
export type StreamKind = 'x509-svid' | 'x509-bundles' | 'jwt-bundles';

/** The message each stream kind carries. */
export interface StreamMessages {
  'x509-svid': X509SvidResponse;
  'x509-bundles': X509BundlesResponse;
  'jwt-bundles': JwtBundlesResponse;
}

/** A composed stream message with a fingerprint of its content, or the status ending the stream. */
export type Composed<M> =
  | { readonly ok: true; readonly message: M; readonly fingerprint: string }
  | { readonly ok: false; readonly status: StatusObject };

/** Workload API §5.2.1, §6.2.2: a caller entitled to no identity gets PermissionDenied. */
export const NO_IDENTITY = 'no identity issued';

function denied(): Composed<never> {
  return { ok: false, status: grpcStatus(status.PERMISSION_DENIED, NO_IDENTITY) };
}

/**
 * A digest of the public parts of a message, so an unchanged view is not pushed again. The
 * private key is left out: it cannot change without its certificate changing.
 */
export function fingerprint(parts: readonly (string | Uint8Array)[]): string {
  const hash = createHash('sha256');
  const len = Buffer.alloc(4);
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part) : part;
    len.writeUInt32BE(bytes.length);
    hash.update(len).update(bytes);
  }
  return hash.digest('base64url').slice(0, 22);
}

function concatDer(certs: readonly { readonly raw: Uint8Array }[]): Buffer {
  return Buffer.concat(certs.map((c) => c.raw));
}

// Bundles are immutable values shared by many views: encode each once.
const x509Encodings = new WeakMap<Bundle, Buffer>();
const jwtEncodings = new WeakMap<Bundle, Buffer>();

function x509BundleDer(bundle: Bundle): Buffer {
  let der = x509Encodings.get(bundle);
  if (der === undefined) x509Encodings.set(bundle, (der = concatDer(bundle.x509Authorities)));
  return der;
}

function jwtBundleJwks(bundle: Bundle): Buffer {
  let jwks = jwtEncodings.get(bundle);
  if (jwks === undefined) jwtEncodings.set(bundle, (jwks = formatJwtJwks(bundle)));
  return jwks;
}

/** The federated bundles of the view that are really foreign (never the own trust domain). */
function foreignBundles(view: WorkloadView): readonly Bundle[] {
  return view.federatedBundles.filter((b) => !b.trustDomain.equals(view.bundle.trustDomain));
}

/**
 * The SVIDs with duplicate non-empty hints removed, keeping the first (Workload API §5.2.1: a
 * server MUST keep hints unique within a response).
 */
export function withUniqueHints<T extends { readonly hint: string; readonly spiffeId: unknown }>(
  svids: readonly T[],
  log: WorkloadApiLog,
): readonly T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const svid of svids) {
    if (svid.hint !== '') {
      if (seen.has(svid.hint)) {
        log.warn('workload api: SVID dropped, its hint is not unique', {
          spiffeId: String(svid.spiffeId),
          hint: svid.hint.slice(0, 64),
        });
        continue;
      }
      seen.add(svid.hint);
    }
    out.push(svid);
  }
  return out;
}

/** FetchX509SVID's message (Workload API §5.2.1): every SVID with its own trust domain's bundle. */
export function composeX509SvidResponse(
  view: WorkloadView,
  log: WorkloadApiLog,
): Composed<X509SvidResponse> {
  const svids: readonly WorkloadX509Svid[] = withUniqueHints(view.svids, log);
  if (svids.length === 0) return denied();
  const bundle = x509BundleDer(view.bundle);
  const parts: (string | Uint8Array)[] = [bundle];
  const messages: X509SvidMessage[] = svids.map((svid) => {
    const chain = Buffer.concat(svid.certChain);
    const key = svid.privateKey;
    parts.push(svid.spiffeId.toString(), chain, svid.hint);
    return {
      spiffe_id: svid.spiffeId.toString(),
      x509_svid: chain,
      // A view over the cache's bytes, not a copy of the key.
      x509_svid_key: Buffer.from(key.buffer, key.byteOffset, key.byteLength),
      bundle,
      hint: svid.hint,
    };
  });
  const federated: Record<string, Buffer> = {};
  for (const b of foreignBundles(view)) {
    const der = x509BundleDer(b);
    federated[b.trustDomain.idString()] = der;
    parts.push(b.trustDomain.idString(), der);
  }
  return {
    ok: true,
    message: { svids: messages, crl: [], federated_bundles: federated },
    fingerprint: fingerprint(parts),
  };
}

/** FetchX509Bundles' message (Workload API §5.2.2): own and federated X.509 authorities. */
export function composeX509BundlesResponse(view: WorkloadView): Composed<X509BundlesResponse> {
  if (view.svids.length === 0) return denied();
  const bundles: Record<string, Buffer> = {};
  const parts: (string | Uint8Array)[] = [];
  for (const b of [view.bundle, ...foreignBundles(view)]) {
    const der = x509BundleDer(b);
    bundles[b.trustDomain.idString()] = der;
    parts.push(b.trustDomain.idString(), der);
  }
  return { ok: true, message: { crl: [], bundles }, fingerprint: fingerprint(parts) };
}

/** FetchJWTBundles' message (Workload API §6.2.2): a JWKS of JWT authorities per trust domain. */
export function composeJwtBundlesResponse(view: WorkloadView): Composed<JwtBundlesResponse> {
  if (view.svids.length === 0) return denied();
  const bundles: Record<string, Buffer> = {};
  const parts: (string | Uint8Array)[] = [];
  for (const b of [view.bundle, ...foreignBundles(view)]) {
    const jwks = jwtBundleJwks(b);
    bundles[b.trustDomain.idString()] = jwks;
    parts.push(b.trustDomain.idString(), jwks);
  }
  return { ok: true, message: { bundles }, fingerprint: fingerprint(parts) };
}

/** Composes the message of a stream kind from a view. */
export function composeStreamMessage<K extends StreamKind>(
  kind: K,
  view: WorkloadView,
  log: WorkloadApiLog,
): Composed<StreamMessages[K]> {
  switch (kind) {
    case 'x509-svid':
      return composeX509SvidResponse(view, log) as Composed<StreamMessages[K]>;
    case 'x509-bundles':
      return composeX509BundlesResponse(view) as Composed<StreamMessages[K]>;
    case 'jwt-bundles':
      return composeJwtBundlesResponse(view) as Composed<StreamMessages[K]>;
  }
  throw new TypeError(`unknown stream kind ${String(kind)}`);
}

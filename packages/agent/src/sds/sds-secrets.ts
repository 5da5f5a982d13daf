import { type EncodedAny, type ProtoObject, XDS_TYPE_URL, encodeAny } from '@parley/api';
import { type Bundle, type SpiffeId, encodePem, parseSpiffeId } from '@parley/core';
import type { WorkloadView, WorkloadX509Svid } from '../workload-api/workload-api-deps.js';
import { fingerprint as digest } from '../workload-api/workload-responses.js';

/** The SDS name of the caller's default identity (the first SVID in the Workload API order). */
export const SDS_DEFAULT_NAME = 'default';
/** The SDS name of the validation context for the agent's own trust domain. */
export const SDS_ROOT_CA_NAME = 'ROOTCA';
/** The SDS name of the validation context for the own and every federated trust domain. */
export const SDS_ALL_BUNDLES_NAME = 'ALL';

/** Envoy's SPIFFE certificate validator (`envoy.tls.cert_validator.spiffe`). */
const SPIFFE_VALIDATOR = 'envoy.tls.cert_validator.spiffe';
const SPIFFE_VALIDATOR_CONFIG =
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig';

/** One Secret an SDS response carries: its name, the encoded resource and a public fingerprint. */
export interface SdsSecret {
  readonly name: string;
  readonly resource: EncodedAny;
  /** A digest of the public parts only (never of the private key), stable for equal content. */
  readonly fingerprint: string;
}

/** What an SDS resource name refers to, for a caller's view. */
type Resolved =
  | { readonly kind: 'certificate'; readonly svid: WorkloadX509Svid }
  | { readonly kind: 'validation'; readonly bundles: readonly Bundle[] }
  | { readonly kind: 'unavailable' };

const UNAVAILABLE: Resolved = { kind: 'unavailable' };

/** The foreign bundles of the view (a federated bundle of the own trust domain is ignored). */
function foreignBundles(view: WorkloadView): readonly Bundle[] {
  return view.federatedBundles.filter((b) => !b.trustDomain.equals(view.bundle.trustDomain));
}

/** Bundles without X.509 authorities cannot validate anything (and Envoy rejects them). */
function usable(bundles: readonly Bundle[]): readonly Bundle[] {
  return bundles.filter((b) => b.x509Authorities.length > 0);
}

function resolve(view: WorkloadView, name: string): Resolved {
  switch (name) {
    case SDS_DEFAULT_NAME: {
      const svid = view.svids[0];
      return svid === undefined ? UNAVAILABLE : { kind: 'certificate', svid };
    }
    case SDS_ROOT_CA_NAME:
      return validation(usable([view.bundle]));
    case SDS_ALL_BUNDLES_NAME:
      return validation(usable([view.bundle, ...foreignBundles(view)]));
  }
  let id: SpiffeId;
  try {
    id = parseSpiffeId(name);
  } catch {
    return UNAVAILABLE;
  }
  // Names are matched exactly as Envoy will match the Secret's name: no normalization.
  if (id.toString() !== name) return UNAVAILABLE;
  if (id.path === '') {
    const bundle = [view.bundle, ...foreignBundles(view)].find((b) =>
      b.trustDomain.equals(id.trustDomain),
    );
    return validation(usable(bundle === undefined ? [] : [bundle]));
  }
  const svid = view.svids.find((s) => s.spiffeId.equals(id));
  return svid === undefined ? UNAVAILABLE : { kind: 'certificate', svid };
}

function validation(bundles: readonly Bundle[]): Resolved {
  return bundles.length === 0 ? UNAVAILABLE : { kind: 'validation', bundles };
}

// SVIDs are immutable values shared by every stream: encode each certificate Secret once.
const encoded = new WeakMap<object, Map<string, SdsSecret>>();

function cachedSecret(key: object, name: string, make: () => SdsSecret): SdsSecret {
  let byName = encoded.get(key);
  if (byName === undefined) encoded.set(key, (byName = new Map<string, SdsSecret>()));
  let secret = byName.get(name);
  if (secret === undefined) byName.set(name, (secret = make()));
  return secret;
}

const certificatesPem = (ders: readonly Uint8Array[]): string =>
  ders.map((der) => encodePem('CERTIFICATE', der)).join('');

function encodeSecret(name: string, resolved: Resolved & { kind: 'certificate' | 'validation' }) {
  let secret: ProtoObject;
  let fingerprint: string;
  if (resolved.kind === 'certificate') {
    const chain = certificatesPem(resolved.svid.certChain);
    secret = {
      name,
      tls_certificate: {
        certificate_chain: { inline_bytes: Buffer.from(chain) },
        private_key: {
          inline_bytes: Buffer.from(encodePem('PRIVATE KEY', resolved.svid.privateKey)),
        },
      },
    };
    fingerprint = digest(['certificate', name, chain]);
  } else {
    const trustDomains = resolved.bundles.map((b) => ({
      name: b.trustDomain.name,
      pem: certificatesPem(b.x509Authorities.map((c) => c.raw)),
    }));
    secret = {
      name,
      validation_context: {
        custom_validator_config: {
          name: SPIFFE_VALIDATOR,
          typed_config: {
            '@type': SPIFFE_VALIDATOR_CONFIG,
            trust_domains: trustDomains.map((td) => ({
              name: td.name,
              trust_bundle: { inline_bytes: Buffer.from(td.pem) },
            })),
          },
        },
      },
    };
    fingerprint = digest(['validation', name, ...trustDomains.flatMap((td) => [td.name, td.pem])]);
  }
  // encodeAny checks the Secret against Envoy's schema before it leaves the process.
  return { name, resource: encodeAny(XDS_TYPE_URL.secret, secret), fingerprint };
}

/**
 * The names a wildcard request (no resource names) stands for: every identity of the caller by
 * its SPIFFE ID, `ROOTCA`, and each federated trust domain by its ID (as SPIRE's SDS does).
 */
function allNames(view: WorkloadView): string[] {
  const names = new Set(view.svids.map((s) => s.spiffeId.toString()));
  names.add(SDS_ROOT_CA_NAME);
  for (const b of foreignBundles(view)) names.add(b.trustDomain.idString());
  return [...names];
}

/**
 * The Secrets of `names` the caller of `view` is entitled to, in request order (duplicates once);
 * names that are unknown or that the caller is not entitled to are left out. A caller entitled
 * to no identity gets nothing, not even bundles (DESIGN §7: fail closed). An empty `names` asks
 * for everything the caller has.
 */
export function secretsFor(view: WorkloadView, names: readonly string[]): SdsSecret[] {
  if (view.svids.length === 0) return [];
  const wanted = names.length === 0 ? allNames(view) : [...new Set(names)];
  const secrets: SdsSecret[] = [];
  for (const name of wanted) {
    const resolved = resolve(view, name);
    if (resolved.kind === 'certificate') {
      secrets.push(cachedSecret(resolved.svid, name, () => encodeSecret(name, resolved)));
    } else if (resolved.kind === 'validation') {
      secrets.push(encodeSecret(name, resolved));
    }
  }
  return secrets;
}

/** The version of a response: a digest of its Secrets' names and public content. */
export function secretsVersion(secrets: readonly SdsSecret[]): string {
  return digest(secrets.flatMap((s) => [s.name, s.fingerprint]));
}

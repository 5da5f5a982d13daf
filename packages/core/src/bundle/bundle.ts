import { type JsonWebKey, type KeyObject, createPublicKey } from 'node:crypto';
import { invalidArgument } from '../errors.js';
import {
  type JsonObject,
  type JsonValue,
  isJsonArray,
  isJsonObject,
  JsonNumber,
  parseJson,
} from '../json/parse-json.js';
import { type TrustDomain } from '../spiffe-id/trust-domain.js';
import {
  type Certificate,
  certificatePublicKey,
  parseCertificate,
} from '../x509-svid/certificate.js';

/**
 * A SPIFFE bundle (SPIFFE Trust Domain and Bundle §4): the X.509 authorities and JWT signing
 * keys of one trust domain, with its sequence number and refresh hint.
 */
export interface Bundle {
  readonly trustDomain: TrustDomain;
  readonly x509Authorities: readonly Certificate[];
  /** JWT-SVID signing keys by key ID (JWT-SVID §6). */
  readonly jwtAuthorities: ReadonlyMap<string, KeyObject>;
  /** `spiffe_sequence` (§4.1.1), an unsigned 64-bit integer. */
  readonly sequenceNumber?: bigint;
  /** `spiffe_refresh_hint` in seconds (§4.1.2). */
  readonly refreshHint?: number;
}

/** Where verifiers find the bundle of a trust domain (consumers own this interface). */
export interface BundleSource {
  bundleFor(td: TrustDomain): Bundle | undefined;
}

/** A BundleSource over a fixed set of bundles. */
export function bundleSet(...bundles: readonly Bundle[]): BundleSource {
  const byName = new Map(bundles.map((b) => [b.trustDomain.name, b]));
  return { bundleFor: (td) => byName.get(td.name) };
}

/** Bundles larger than this are refused (a bundle of hundreds of keys fits easily). */
export const MAX_BUNDLE_BYTES = 4 << 20;
const MAX_UINT64 = (1n << 64n) - 1n;

/**
 * Parses a SPIFFE bundle document for `td`. `keys` is required (§4.1.3); entries with a missing or
 * unknown `use` are ignored (§4.2.2). Where go-spiffe is stricter than the spec, Parley is as
 * strict, so it never accepts a bundle its clients would refuse: every entry must be a valid
 * public key of a known `kty`; `x509-svid` entries carry exactly one `x5c` certificate matching
 * the key (X509-SVID §6.1); `jwt-svid` entries need a unique `kid` (JWT-SVID §6.1). Duplicate
 * JSON keys, private key material, a sequence outside uint64 and a negative refresh hint are
 * errors.
 */
export function parseBundle(td: TrustDomain, document: string | Uint8Array): Bundle {
  const text = typeof document === 'string' ? document : decodeUtf8(document);
  return bundleFromJson(td, parseJson(text, { maxLength: MAX_BUNDLE_BYTES }));
}

function decodeUtf8(bytes: Uint8Array): string {
  if (bytes.length > MAX_BUNDLE_BYTES)
    throw invalidArgument(`bundle exceeds ${MAX_BUNDLE_BYTES} bytes`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalidArgument('bundle is not valid UTF-8');
  }
}

/** Builds a bundle from an already parsed JSON value (used for bundle maps). */
export function bundleFromJson(td: TrustDomain, doc: JsonValue): Bundle {
  const fail = (why: string): never => {
    throw invalidArgument(`invalid SPIFFE bundle for ${td.name}: ${why}`);
  };
  if (!isJsonObject(doc)) return fail('document is not a JSON object');
  const keys = doc.get('keys');
  if (keys === undefined) return fail('"keys" is required (§4.1.3)');
  if (!isJsonArray(keys)) return fail('"keys" must be an array');

  const x509Authorities: Certificate[] = [];
  const jwtAuthorities = new Map<string, KeyObject>();
  keys.forEach((key, i) => {
    if (!isJsonObject(key)) return fail(`keys[${i}] is not an object`);
    // Every element must be a well-formed public key, whatever its use: go-spiffe refuses a bundle
    // with any unparseable element, and Parley never redistributes a bundle its clients would refuse.
    const kty = key.get('kty');
    if (typeof kty !== 'string' || !KNOWN_KTY.has(kty))
      return fail(`keys[${i}] has a missing or unsupported kty (§4.2.1)`);
    if (PRIVATE_MEMBERS.some((m) => key.has(m)))
      return fail(`keys[${i}] contains private key material`);
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: toJwk(key), format: 'jwk' });
    } catch {
      return fail(`keys[${i}] is not a valid public key`);
    }
    const use = key.get('use');
    if (use === 'x509-svid') {
      const x5c = key.get('x5c');
      // X509-SVID §6.1: exactly one CA certificate, matching the key members.
      if (!isJsonArray(x5c) || x5c.length !== 1)
        return fail(`keys[${i}] (x509-svid) must carry exactly one x5c certificate`);
      const first = x5c[0];
      if (
        typeof first !== 'string' ||
        !/^[A-Za-z0-9+/]*={0,2}$/.test(first) ||
        first.length % 4 !== 0
      ) {
        return fail(`keys[${i}].x5c[0] is not base64`);
      }
      let cert: Certificate;
      try {
        cert = parseCertificate(Buffer.from(first, 'base64'));
      } catch (err) {
        return fail(`keys[${i}].x5c[0]: ${(err as Error).message}`);
      }
      if (!certificatePublicKey(cert).equals(publicKey))
        return fail(`keys[${i}] key members do not match its x5c certificate`);
      x509Authorities.push(cert);
    } else if (use === 'jwt-svid') {
      const kid = key.get('kid');
      if (typeof kid !== 'string' || kid === '')
        return fail(`keys[${i}] (jwt-svid) is missing its key ID (JWT-SVID §6.1)`);
      if (jwtAuthorities.has(kid))
        return fail(`duplicate JWT authority key ID ${JSON.stringify(kid.slice(0, 64))}`);
      jwtAuthorities.set(kid, publicKey);
    }
    // Any other use, or none, is ignored (§4.2.2).
  });

  const seq = doc.get('spiffe_sequence');
  const hint = doc.get('spiffe_refresh_hint');
  let sequenceNumber: bigint | undefined;
  let refreshHint: number | undefined;
  if (seq !== undefined) {
    const v = seq instanceof JsonNumber ? seq.toBigInt() : undefined;
    if (v === undefined || v < 0n || v > MAX_UINT64)
      return fail('spiffe_sequence must be an unsigned 64-bit integer (§4.1.1)');
    sequenceNumber = v;
  }
  if (hint !== undefined) {
    const v = hint instanceof JsonNumber ? hint.toBigInt() : undefined;
    if (v === undefined || v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
      return fail('spiffe_refresh_hint must be a non-negative integer of seconds (§4.1.2)');
    }
    refreshHint = Number(v);
  }
  return {
    trustDomain: td,
    x509Authorities,
    jwtAuthorities,
    ...(sequenceNumber === undefined ? {} : { sequenceNumber }),
    ...(refreshHint === undefined ? {} : { refreshHint }),
  };
}

const KNOWN_KTY = new Set(['EC', 'RSA', 'OKP']);
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];
const JWK_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'];

function toJwk(key: JsonObject): JsonWebKey {
  const jwk: Record<string, string> = {};
  for (const m of JWK_MEMBERS) {
    const v = key.get(m);
    if (typeof v === 'string') jwk[m] = v;
  }
  return jwk;
}

/** The public JWK members of a key (kty, crv/x/y or n/e). */
function publicJwk(key: KeyObject): Record<string, string> {
  const jwk = key.export({ format: 'jwk' });
  const out: Record<string, string> = {};
  for (const m of JWK_MEMBERS) {
    const v = jwk[m];
    if (typeof v === 'string') out[m] = v;
  }
  return out;
}

/**
 * Formats a bundle as a SPIFFE bundle document (§4): x509-svid entries with `x5c` and no `kid`
 * (X509-SVID §6.1), jwt-svid entries with `kid` (JWT-SVID §6.1), sequence and refresh hint.
 */
export function formatBundle(bundle: Bundle): string {
  const keys = [
    ...bundle.x509Authorities.map((cert) => ({
      use: 'x509-svid',
      ...publicJwk(certificatePublicKey(cert)),
      x5c: [Buffer.from(cert.raw).toString('base64')],
    })),
    ...[...bundle.jwtAuthorities].map(([kid, key]) => ({
      use: 'jwt-svid',
      kid,
      ...publicJwk(key),
    })),
  ];
  const doc: Record<string, unknown> = { keys };
  if (bundle.refreshHint !== undefined) doc['spiffe_refresh_hint'] = bundle.refreshHint;
  const json = JSON.stringify(doc);
  // JSON.stringify cannot write a bigint: the sequence number is appended as digits.
  return bundle.sequenceNumber === undefined
    ? json
    : `${json.slice(0, -1)},"spiffe_sequence":${bundle.sequenceNumber}}`;
}

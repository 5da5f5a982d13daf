import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import {
  X509Certificate,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  webcrypto,
} from 'node:crypto';
import { type VectorCase, loadVectors } from './load-vectors.js';

// Certificates and tokens here are built with libraries independent of @parley/core
// (@peculiar/x509 over WebCrypto, node:crypto for JWS), so conformance checks are not circular.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** One case as the go-spiffe oracle reads it (see e2e/peers/go-spiffe-oracle/README.md). */
export type OracleCase =
  | { id: string; kind: 'spiffe-id' | 'trust-domain'; input: string }
  | {
      id: string;
      kind: 'x509-svid';
      chain: string[];
      bundle: { trustDomain: string; authorities: string[] };
      now: string;
    }
  | {
      id: string;
      kind: 'jwt-svid';
      token: string;
      bundle: { trustDomain: string; json: string };
      audience: string[];
      now: string;
    }
  | { id: string; kind: 'bundle' | 'bundle-map'; trustDomain: string; json: string };

/** A vector case made concrete: the oracle input and both implementations' expected verdicts. */
export interface MaterializedCase {
  readonly id: string;
  readonly vector: VectorCase;
  readonly input: OracleCase;
  readonly expectParley: boolean;
  /** Undefined when go-spiffe's verdict is not pinned (e.g. it cannot judge that kind). */
  readonly expectGo: boolean | undefined;
}

type KeyType = 'ec-p256' | 'ec-p384' | 'ec-p521' | 'rsa-2048';

const WEBCRYPTO_ALG: Record<KeyType, webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams> = {
  'ec-p256': { name: 'ECDSA', namedCurve: 'P-256' },
  'ec-p384': { name: 'ECDSA', namedCurve: 'P-384' },
  'ec-p521': { name: 'ECDSA', namedCurve: 'P-521' },
  'rsa-2048': {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  },
};
const SIGNING_ALG: Record<KeyType, webcrypto.Algorithm & { hash?: string }> = {
  'ec-p256': { name: 'ECDSA', hash: 'SHA-256' },
  'ec-p384': { name: 'ECDSA', hash: 'SHA-384' },
  'ec-p521': { name: 'ECDSA', hash: 'SHA-512' },
  'rsa-2048': { name: 'RSASSA-PKCS1-v1_5' },
};

const expectGo = (v: VectorCase): boolean | undefined =>
  v.goSpiffe === null ? undefined : (v.goSpiffe ?? v.valid);

/** Materializes the SPIFFE ID and trust domain vectors (already concrete). */
export function materializeNames(): MaterializedCase[] {
  return (['spiffe-id', 'trust-domain'] as const).flatMap((kind) =>
    loadVectors<VectorCase & { input: string }>(`${kind}.json`).cases.map((v, i) => ({
      id: `${kind}/${i}`,
      vector: v,
      input: { id: `${kind}/${i}`, kind, input: v.input },
      expectParley: v.valid,
      expectGo: expectGo(v),
    })),
  );
}

// ---- X.509 ----

interface CertSpec {
  issuer?: string;
  signedBy?: string;
  issuerName?: string;
  subject?: string;
  ca?: boolean;
  basicConstraints?: boolean;
  pathLen?: number;
  keyUsage?: string[] | null;
  keyUsageCritical?: boolean;
  eku?: string[] | null;
  ekuCritical?: boolean;
  uris?: string[];
  dns?: string[];
  sanCritical?: boolean;
  key?: KeyType;
  notBefore?: number;
  notAfter?: number;
  extensions?: { oid: string; critical: boolean; value: string }[];
  corruptSignature?: boolean;
}

interface X509Vector extends VectorCase {
  certs: Record<string, CertSpec>;
  chain: string[];
  bundle: { trustDomain: string; authorities: string[] };
  rawChain?: string[];
  appendToLeaf?: string;
}

interface X509Defaults {
  key: KeyType;
  notBefore: number;
  notAfter: number;
  leaf: CertSpec;
  ca: CertSpec;
}

const EKU_OIDS: Record<string, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

async function buildCertificates(
  specs: Record<string, CertSpec>,
  defaults: X509Defaults,
  now: number,
): Promise<Record<string, Uint8Array>> {
  const keys: Record<string, webcrypto.CryptoKeyPair> = {};
  const types: Record<string, KeyType> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const type = spec.key ?? defaults.key;
    types[name] = type;
    keys[name] = await webcrypto.subtle.generateKey(WEBCRYPTO_ALG[type], true, ['sign', 'verify']);
  }
  const out: Record<string, Uint8Array> = {};
  let serial = 1;
  for (const [name, raw] of Object.entries(specs)) {
    const spec: CertSpec = { ...(raw.ca === true ? defaults.ca : defaults.leaf), ...raw };
    const signer = spec.signedBy ?? spec.issuer ?? name;
    const issuerSpec = specs[spec.issuer ?? name];
    const extensions: x509.Extension[] = [];
    if (spec.basicConstraints !== false)
      extensions.push(new x509.BasicConstraintsExtension(spec.ca === true, spec.pathLen, true));
    if (spec.keyUsage) {
      const flags = spec.keyUsage.reduce(
        (f, u) => f | (x509.KeyUsageFlags as unknown as Record<string, number>)[u]!,
        0,
      );
      extensions.push(new x509.KeyUsagesExtension(flags, spec.keyUsageCritical ?? true));
    }
    if (spec.eku && raw.ca !== true)
      extensions.push(
        new x509.ExtendedKeyUsageExtension(
          spec.eku.map((e) => EKU_OIDS[e]!),
          spec.ekuCritical ?? false,
        ),
      );
    const san = [
      ...(spec.uris ?? []).map((value) => ({ type: 'url' as const, value })),
      ...(spec.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ];
    if (san.length > 0)
      extensions.push(new x509.SubjectAlternativeNameExtension(san, spec.sanCritical ?? false));
    for (const e of spec.extensions ?? [])
      extensions.push(new x509.Extension(e.oid, e.critical, Buffer.from(e.value, 'hex')));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: (serial++).toString(16).padStart(2, '0'),
      subject: spec.subject ?? `CN=${name}`,
      issuer: spec.issuerName ?? issuerSpec?.subject ?? `CN=${spec.issuer ?? name}`,
      notBefore: new Date(now + (spec.notBefore ?? defaults.notBefore) * 1000),
      notAfter: new Date(now + (spec.notAfter ?? defaults.notAfter) * 1000),
      signingAlgorithm: { ...WEBCRYPTO_ALG[types[signer]!], ...SIGNING_ALG[types[signer]!] },
      publicKey: keys[name]!.publicKey,
      signingKey: keys[signer]!.privateKey,
      extensions,
    });
    const der = new Uint8Array(cert.rawData);
    if (spec.corruptSignature) der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
    out[name] = der;
  }
  return out;
}

/** Materializes the X509-SVID vectors: certificates generated from their declarative descriptions. */
export async function materializeX509(): Promise<MaterializedCase[]> {
  const file = loadVectors<X509Vector>('x509-svid.json');
  const now = Date.parse(file['now'] as string);
  const defaults = file['defaults'] as X509Defaults;
  const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64');
  const out: MaterializedCase[] = [];
  for (const [i, v] of file.cases.entries()) {
    const certs = await buildCertificates(v.certs, defaults, now);
    let chain = v.rawChain ?? v.chain.map((n) => b64(certs[n]!));
    if (v.appendToLeaf !== undefined && chain[0] !== undefined) {
      chain = [
        b64(Buffer.concat([Buffer.from(chain[0], 'base64'), Buffer.from(v.appendToLeaf, 'hex')])),
        ...chain.slice(1),
      ];
    }
    const id = `x509-svid/${i}`;
    out.push({
      id,
      vector: v,
      input: {
        id,
        kind: 'x509-svid',
        chain: v.rawChain ? v.rawChain.map((h) => Buffer.from(h, 'hex').toString('base64')) : chain,
        bundle: {
          trustDomain: v.bundle.trustDomain,
          authorities: v.bundle.authorities.map((n) => b64(certs[n]!)),
        },
        now: new Date(now).toISOString(),
      },
      expectParley: v.valid,
      expectGo: expectGo(v),
    });
  }
  return out;
}

// ---- keys shared by JWT and bundle vectors ----

function generate(type: KeyType): KeyObject {
  switch (type) {
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'ec-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    case 'ec-p521':
      return generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey;
    case 'rsa-2048':
      return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  }
}

function publicJwkMembers(key: KeyObject): string {
  const jwk = (key.type === 'public' ? key : createPublicKey(key)).export({ format: 'jwk' });
  const members = ['kty', 'crv', 'x', 'y', 'n', 'e'].filter((m) => jwk[m] !== undefined);
  return members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',');
}

// ---- JWT-SVID ----

interface JwtVector extends VectorCase {
  key?: KeyType;
  alg?: string;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  headerRaw?: string;
  claimsRaw?: string;
  bundleKeys?: { kid: string; key: string }[];
  audience?: string[];
  tamper?: 'payload' | 'signature' | 'pad';
  signature?: 'empty' | 'hmac';
  token?: string;
}

const DEFAULT_ALG: Record<KeyType, string> = {
  'ec-p256': 'ES256',
  'ec-p384': 'ES384',
  'ec-p521': 'ES512',
  'rsa-2048': 'RS256',
};

function jwsSign(alg: string, key: KeyObject, input: string): Buffer {
  const hash = `sha${alg.slice(2)}`;
  if (alg.startsWith('ES'))
    return sign(hash, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  if (alg.startsWith('PS'))
    return sign(hash, Buffer.from(input), { key, padding: 6, saltLength: -1 });
  return sign(hash, Buffer.from(input), key);
}

function withNow(value: unknown, nowSec: number): unknown {
  if (typeof value === 'string') {
    const m = /^\$now([+-]\d+)$/.exec(value);
    if (m) return nowSec + Number(m[1]);
  }
  if (Array.isArray(value) || value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withNow(v, nowSec)]));
}

function merge(
  base: Record<string, unknown>,
  over: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over ?? {})) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/**
 * Materializes the JWT-SVID vectors. Tokens are signed at the current time (go-spiffe validates
 * with the real clock); Parley verifies at that same fixed instant.
 */
export function materializeJwt(): MaterializedCase[] {
  const file = loadVectors<JwtVector>('jwt-svid.json');
  const d = file['defaults'] as Required<
    Pick<JwtVector, 'key' | 'header' | 'claims' | 'bundleKeys' | 'audience'>
  > & { trustDomain: string };
  const now = Math.floor(Date.now() / 1000) * 1000;
  const nowSec = now / 1000;
  const b64u = (s: string | Buffer) => Buffer.from(s).toString('base64url');
  return file.cases.map((v, i) => {
    const keyType = v.key ?? d.key;
    const signing = generate(keyType);
    const alg = v.alg ?? DEFAULT_ALG[keyType];
    const header = merge({ alg, ...d.header }, v.header);
    const claims = withNow(merge(d.claims, v.claims), nowSec) as Record<string, unknown>;
    const h = b64u(v.headerRaw ?? JSON.stringify(header));
    const c = b64u(
      v.claimsRaw !== undefined
        ? v.claimsRaw.replace(/\$now\+(\d+)/g, (_m, n: string) => String(nowSec + Number(n)))
        : JSON.stringify(claims),
    );
    const input = `${h}.${c}`;
    let sig: Buffer =
      v.signature === 'empty'
        ? Buffer.alloc(0)
        : v.signature === 'hmac'
          ? createHmac('sha256', 'secret').update(input).digest()
          : jwsSign(alg, signing, input);
    let token = `${input}.${b64u(sig)}`;
    if (v.tamper === 'signature') {
      sig = Buffer.from(sig);
      sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 0x01;
      token = `${input}.${b64u(sig)}`;
    } else if (v.tamper === 'payload') {
      const forged = b64u(JSON.stringify({ ...claims, sub: 'spiffe://example.org/admin' }));
      token = `${h}.${forged}.${b64u(sig)}`;
    } else if (v.tamper === 'pad') {
      token = `${h}=.${c}.${b64u(sig)}`;
    }
    if (v.token !== undefined) token = v.token;
    const keys = (v.bundleKeys ?? d.bundleKeys).map(({ kid, key }) => {
      const k = key === 'signing' ? signing : generate(key as KeyType);
      return `{"use":"jwt-svid","kid":${JSON.stringify(kid)},${publicJwkMembers(k)}}`;
    });
    const id = `jwt-svid/${i}`;
    return {
      id,
      vector: v,
      input: {
        id,
        kind: 'jwt-svid',
        token,
        bundle: { trustDomain: d.trustDomain, json: `{"keys":[${keys.join(',')}]}` },
        audience: v.audience ?? d.audience,
        now: new Date(now).toISOString(),
      },
      expectParley: v.valid,
      expectGo: expectGo(v),
    };
  });
}

// ---- bundles ----

interface BundleVector extends VectorCase {
  document: string;
}

/** Materializes the bundle and bundle-map vectors, filling key placeholders with generated keys. */
export async function materializeBundles(): Promise<MaterializedCase[]> {
  const ca = await buildCertificates(
    { root: { ca: true } },
    {
      key: 'ec-p256',
      notBefore: -3600,
      notAfter: 3600,
      leaf: {},
      ca: { uris: ['spiffe://example.org'], keyUsage: ['keyCertSign'] },
    },
    Date.now(),
  );
  const caKey = new X509Certificate(ca['root']!).publicKey;
  const fill = (doc: string) =>
    doc
      .replaceAll('@X5C_JWK@', publicJwkMembers(caKey))
      .replaceAll('@X5C@', Buffer.from(ca['root']!).toString('base64'))
      .replaceAll('@EC_JWK@', publicJwkMembers(generate('ec-p256')))
      .replaceAll('@RSA_JWK@', publicJwkMembers(generate('rsa-2048')));
  return (['bundle', 'bundle-map'] as const).flatMap((kind) => {
    const file = loadVectors<BundleVector>(`${kind}.json`);
    const td = (file['trustDomain'] as string | undefined) ?? '';
    return file.cases.map((v, i) => ({
      id: `${kind}/${i}`,
      vector: v,
      input: { id: `${kind}/${i}`, kind, trustDomain: td, json: fill(v.document) },
      expectParley: v.valid,
      expectGo: kind === 'bundle-map' ? undefined : expectGo(v),
    }));
  });
}

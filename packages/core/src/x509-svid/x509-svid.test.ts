import assert from 'node:assert/strict';
import { type KeyObject, X509Certificate, createHash, createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { type Bundle, bundleSet } from '../bundle/bundle.js';
import { type Clock, fixedClock } from '../clock.js';
import { durationMs } from '../config/duration.js';
import { type Signer, generateKey, keyObjectSigner } from '../crypto/signer.js';
import { spkiOf } from '../crypto/spki.js';
import { DerReader } from '../der/decode.js';
import { Tag } from '../der/encode.js';
import { Oid } from '../der/oids.js';
import { isParleyError } from '../errors.js';
import { parseSpiffeId } from '../spiffe-id/spiffe-id.js';
import { type TrustDomain, parseTrustDomain } from '../spiffe-id/trust-domain.js';
import {
  type Certificate,
  KeyUsage,
  MAX_CERTIFICATE_BYTES,
  certificatePublicKey,
  parseCertificate,
} from './certificate.js';
import {
  BACKDATE_MS,
  type MintedCertificate,
  type X509Authority,
  X509Minter,
  mintSelfSignedRoot,
} from './mint.js';
import { checkLeafProfile, signingCertificateProblem } from './profile.js';
import { MAX_CHAIN_LENGTH, verifyX509Svid } from './verify.js';

const TD = parseTrustDomain('example.org');
const OTHER_TD = parseTrustDomain('other.org');
const WORKLOAD = parseSpiffeId('spiffe://example.org/ns/prod/sa/web');
/** A fixed instant; every certificate here is minted and verified relative to it. */
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const clock = fixedClock(NOW);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const sec = (ms: number) => Math.floor(ms / 1000) * 1000;

// Keys are generated once: RSA generation dominates the cost of this file otherwise.
const signers: Record<'ec-p256' | 'ec-p384' | 'rsa-2048', Signer> = {
  'ec-p256': keyObjectSigner(generateKey('ec-p256')),
  'ec-p384': keyObjectSigner(generateKey('ec-p384')),
  'rsa-2048': keyObjectSigner(generateKey('rsa-2048')),
};
const intermediateSigner = keyObjectSigner(generateKey('ec-p256'));
const otherRootSigner = keyObjectSigner(generateKey('ec-p256'));
const leafKey = keyObjectSigner(generateKey('ec-p256')).publicKey;

interface Root {
  readonly minted: MintedCertificate;
  readonly authority: X509Authority;
  readonly x509: X509Certificate;
}

async function mintRoot(
  signer: Signer,
  opts: { td?: TrustDomain; ttl?: number; pathLen?: number; at?: Clock } = {},
): Promise<Root> {
  const minted = await mintSelfSignedRoot(
    signer,
    {
      trustDomain: opts.td ?? TD,
      ttl: durationMs(opts.ttl ?? 30 * DAY),
      ...(opts.pathLen === undefined ? {} : { pathLen: opts.pathLen }),
    },
    opts.at ?? clock,
  );
  return {
    minted,
    authority: { signer, certificate: parseCertificate(minted.der) },
    x509: new X509Certificate(minted.der),
  };
}

async function mintLeaf(
  authority: X509Authority,
  opts: { ttl?: number; at?: Clock; dnsNames?: string[]; publicKey?: KeyObject | Uint8Array } = {},
): Promise<MintedCertificate> {
  return new X509Minter(authority, opts.at ?? clock).mintSvid({
    spiffeId: WORKLOAD,
    publicKey: opts.publicKey ?? leafKey,
    ttl: durationMs(opts.ttl ?? HOUR),
    ...(opts.dnsNames === undefined ? {} : { dnsNames: opts.dnsNames }),
  });
}

function bundleOf(td: TrustDomain, ...authorities: Uint8Array[]): Bundle {
  return {
    trustDomain: td,
    x509Authorities: authorities.map((der) => parseCertificate(der)),
    jwtAuthorities: new Map(),
  };
}

/** Node's (OpenSSL's) reading of a validity time, in ms. */
const nodeTime = (text: string) => new Date(text).getTime();

function reason(result: ReturnType<typeof verifyX509Svid>): string {
  assert.equal(result.ok, false, 'expected a rejection');
  return result.ok ? '' : result.reason;
}

function sha1KeyId(spki: Uint8Array): string {
  const r = new DerReader(spki, 'spki');
  const inner = new DerReader(r.expect(Tag.sequence, 'spki').content, 'spki');
  inner.expect(Tag.sequence, 'alg');
  const bits = inner.expect(Tag.bitString, 'key').content.subarray(1);
  return createHash('sha1').update(bits).digest('hex');
}

describe('mintSelfSignedRoot', () => {
  for (const type of Object.keys(signers) as (keyof typeof signers)[]) {
    it(`mints a ${type} root that Node's X.509 parser accepts as a self-signed CA`, async () => {
      const signer = signers[type];
      const { minted, authority, x509 } = await mintRoot(signer);
      // Node / OpenSSL, an independent implementation.
      assert.equal(x509.ca, true);
      assert.ok(x509.checkIssued(x509));
      assert.ok(x509.verify(signer.publicKey));
      assert.ok(!x509.verify(otherRootSigner.publicKey));
      assert.ok(x509.publicKey.equals(signer.publicKey));
      assert.equal(x509.subjectAltName, 'URI:spiffe://example.org');
      assert.equal(x509.subject, 'O=Parley\nCN=example.org');
      assert.equal(x509.issuer, x509.subject);
      assert.equal(
        x509.serialNumber,
        Buffer.from(minted.serialNumber).toString('hex').toUpperCase(),
      );
      assert.equal(nodeTime(x509.validFrom), NOW - BACKDATE_MS);
      assert.equal(nodeTime(x509.validTo), NOW + 30 * DAY);
      // Parley's own reading agrees.
      const cert = authority.certificate;
      assert.equal(cert.notBefore, minted.notBefore);
      assert.equal(cert.notAfter, minted.notAfter);
      assert.equal(minted.notBefore, NOW - BACKDATE_MS);
      assert.deepEqual(cert.uris, ['spiffe://example.org']);
      assert.deepEqual(cert.basicConstraints, { ca: true });
      assert.deepEqual(cert.keyUsage, {
        bits: KeyUsage.keyCertSign | KeyUsage.cRLSign,
        critical: true,
      });
      assert.equal(signingCertificateProblem(cert), undefined);
      assert.ok(certificatePublicKey(cert).equals(signer.publicKey));
      assert.equal(
        Buffer.from(cert.subjectKeyId ?? []).toString('hex'),
        sha1KeyId(spkiOf(signer.publicKey)),
      );
      assert.equal(
        cert.signatureAlgorithm,
        {
          'ec-p256': Oid.ecdsaWithSha256,
          'ec-p384': Oid.ecdsaWithSha384,
          'rsa-2048': Oid.sha256WithRsa,
        }[type],
      );
      assert.deepEqual(cert.unhandledCritical, []);
    });
  }

  it('writes a pathLen constraint Node reads back', async () => {
    const { authority } = await mintRoot(signers['ec-p256'], { pathLen: 1 });
    assert.deepEqual(authority.certificate.basicConstraints, { ca: true, pathLen: 1 });
  });

  it('writes times from 2050 on as GeneralizedTime, which Node reads the same', async () => {
    const at = fixedClock(Date.UTC(2049, 11, 31, 23, 0, 0));
    const { minted, x509 } = await mintRoot(signers['ec-p256'], { at, ttl: 2 * HOUR });
    assert.equal(minted.notAfter, Date.UTC(2050, 0, 1, 1, 0, 0));
    assert.equal(nodeTime(x509.validTo), minted.notAfter);
    assert.equal(nodeTime(x509.validFrom), minted.notBefore);
  });

  it('gives every certificate a distinct positive 16-octet serial', async () => {
    const { authority } = await mintRoot(signers['ec-p256']);
    const minter = new X509Minter(authority, clock);
    const serials = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const m = await minter.mintSvid({
        spiffeId: WORKLOAD,
        publicKey: leafKey,
        ttl: durationMs(HOUR),
      });
      assert.equal(m.serialNumber.length, 16);
      assert.equal((m.serialNumber[0] ?? 0) & 0x80, 0);
      assert.notEqual(m.serialNumber[0], 0);
      serials.add(Buffer.from(m.serialNumber).toString('hex'));
    }
    assert.equal(serials.size, 50);
  });
});

describe('X509Minter.mintSvid', () => {
  for (const type of Object.keys(signers) as (keyof typeof signers)[]) {
    it(`mints a leaf under a ${type} root that Node verifies`, async () => {
      const root = await mintRoot(signers[type]);
      const minted = await mintLeaf(root.authority, {
        dnsNames: ['web.example.org', '*.svc.example.org'],
      });
      const x509 = new X509Certificate(minted.der);
      assert.ok(x509.checkIssued(root.x509));
      assert.ok(x509.verify(root.x509.publicKey));
      assert.ok(!x509.verify(otherRootSigner.publicKey));
      assert.ok(!x509.checkIssued(x509));
      assert.equal(x509.ca, false);
      assert.ok(x509.publicKey.equals(leafKey));
      assert.equal(
        x509.subjectAltName,
        'URI:spiffe://example.org/ns/prod/sa/web, DNS:web.example.org, DNS:*.svc.example.org',
      );
      assert.equal(x509.subject, 'O=Parley\nCN=web.example.org');
      assert.equal(x509.issuer, root.x509.subject);
      assert.deepEqual(x509.keyUsage, [Oid.serverAuth, Oid.clientAuth]);
      assert.equal(x509.checkHost('web.example.org'), 'web.example.org');
      assert.equal(x509.checkHost('api.svc.example.org'), '*.svc.example.org');
      assert.equal(x509.checkHost('evil.org'), undefined);
      assert.equal(nodeTime(x509.validFrom), NOW - BACKDATE_MS);
      assert.equal(nodeTime(x509.validTo), NOW + HOUR);
      assert.equal(
        x509.serialNumber,
        Buffer.from(minted.serialNumber).toString('hex').toUpperCase(),
      );

      const cert = parseCertificate(minted.der);
      const profile = checkLeafProfile(cert);
      assert.ok(profile.ok && profile.spiffeId.equals(WORKLOAD));
      assert.equal(cert.basicConstraints?.ca, false);
      assert.deepEqual(cert.keyUsage, { bits: KeyUsage.digitalSignature, critical: true });
      assert.deepEqual(cert.dnsNames, ['web.example.org', '*.svc.example.org']);
      assert.equal(
        Buffer.from(cert.authorityKeyId ?? []).toString('hex'),
        Buffer.from(root.authority.certificate.subjectKeyId ?? []).toString('hex'),
      );
      assert.equal(
        Buffer.from(cert.subjectKeyId ?? []).toString('hex'),
        sha1KeyId(spkiOf(leafKey)),
      );

      const result = verifyX509Svid([minted.der], bundleSet(bundleOf(TD, root.minted.der)), clock);
      assert.ok(result.ok, result.ok ? '' : result.reason);
      assert.ok(result.svid.spiffeId.equals(WORKLOAD));
      assert.equal(result.svid.expiresAt, NOW + HOUR);
      assert.equal(result.svid.path.length, 2);
      assert.ok(Buffer.from(result.svid.path[1]?.raw ?? []).equals(root.minted.der));
    });
  }

  it('takes the subject key as SPKI DER, and refuses a private key', async () => {
    const root = await mintRoot(signers['ec-p256']);
    const minted = await mintLeaf(root.authority, { publicKey: spkiOf(leafKey) });
    assert.ok(new X509Certificate(minted.der).publicKey.equals(leafKey));
    assert.equal(new X509Certificate(minted.der).subject, 'O=Parley');
    await assert.rejects(
      mintLeaf(root.authority, { publicKey: generateKey('ec-p256') }),
      TypeError,
    );
  });

  it('backdates NotBefore by BACKDATE_MS, but never before the issuer', async () => {
    const root = await mintRoot(signers['ec-p256']);
    const later = fixedClock(NOW + 2 * HOUR + 123);
    const minted = await mintLeaf(root.authority, { at: later });
    assert.equal(minted.notBefore, sec(NOW + 2 * HOUR + 123 - BACKDATE_MS));
    assert.equal(nodeTime(new X509Certificate(minted.der).validFrom), minted.notBefore);
    // A minter whose clock is a little behind the root's never predates the root.
    const behind = await mintLeaf(root.authority, { at: fixedClock(NOW - 5000) });
    assert.equal(behind.notBefore, root.minted.notBefore);
  });

  it('caps the lifetime at the issuer’s notAfter', async () => {
    const root = await mintRoot(signers['ec-p256'], { ttl: 2 * HOUR });
    const minted = await mintLeaf(root.authority, { ttl: 10 * DAY });
    assert.equal(minted.notAfter, root.minted.notAfter);
    assert.equal(nodeTime(new X509Certificate(minted.der).validTo), root.minted.notAfter);
    const late = await mintLeaf(root.authority, {
      ttl: 10 * DAY,
      at: fixedClock(NOW + HOUR + 59 * 60_000),
    });
    assert.equal(late.notAfter, root.minted.notAfter);
    const inter = await new X509Minter(root.authority, clock).mintSigningCertificate({
      trustDomain: TD,
      publicKey: intermediateSigner.publicKey,
      ttl: durationMs(10 * DAY),
    });
    assert.equal(inter.notAfter, root.minted.notAfter);
  });

  it('refuses to mint once the authority has expired', async () => {
    const root = await mintRoot(signers['ec-p256'], { ttl: HOUR });
    for (const at of [root.minted.notAfter, root.minted.notAfter + 1, NOW + DAY]) {
      await assert.rejects(mintLeaf(root.authority, { at: fixedClock(at) }), (err) =>
        isParleyError(err, 'invalid-argument'),
      );
    }
  });

  it('never mints a certificate whose notAfter precedes its notBefore', async () => {
    const root = await mintRoot(signers['ec-p256']);
    const skewed = fixedClock(NOW - HOUR);
    try {
      const minted = await mintLeaf(root.authority, { at: skewed, ttl: 30 * 60_000 });
      assert.ok(minted.notBefore < minted.notAfter, 'validity is inverted');
    } catch (err) {
      assert.ok(isParleyError(err, 'invalid-argument'));
    }
  });

  it('validates DNS names', async () => {
    const root = await mintRoot(signers['ec-p256']);
    for (const ok of [
      'localhost',
      'a.b',
      'web.example.org',
      '*.svc.example.org',
      'X-1.Example.ORG',
      'a'.repeat(63) + '.org',
    ]) {
      const minted = await mintLeaf(root.authority, { dnsNames: [ok] });
      assert.deepEqual(parseCertificate(minted.der).dnsNames, [ok]);
    }
    for (const bad of [
      '',
      '.',
      'a.',
      '.a',
      'a..b',
      '-a.org',
      'a-.org',
      'a_b.org',
      'a b.org',
      'é.org',
      '*',
      '*.org',
      'a.*.org',
      '*a.example.org',
      'a'.repeat(64) + '.org',
      `${'a'.repeat(60)}.`.repeat(4) + 'abcdefghijklmnop', // 260 characters
      'web.example.org/x',
      'web.example.org:443',
      '1.2.3.4\u0000',
    ]) {
      await assert.rejects(
        mintLeaf(root.authority, { dnsNames: ['ok.example.org', bad] }),
        (err) => isParleyError(err, 'invalid-argument') && err.message.length < 120,
        JSON.stringify(bad),
      );
    }
  });

  it('refuses an authority certificate that is not a CA', async () => {
    const root = await mintRoot(signers['ec-p256']);
    const leafSigner = keyObjectSigner(generateKey('ec-p256'));
    const leaf = await mintLeaf(root.authority, { publicKey: leafSigner.publicKey });
    assert.throws(
      () => new X509Minter({ signer: leafSigner, certificate: parseCertificate(leaf.der) }, clock),
      (err) => isParleyError(err, 'invalid-argument') && /cannot sign.*cA/.test(err.message),
    );
  });

  it('mints leaf SVIDs only in the authority’s trust domain, signing certificates for any', async () => {
    const root = await mintRoot(signers['ec-p256']);
    const minter = new X509Minter(root.authority, clock);
    await assert.rejects(
      minter.mintSvid({
        spiffeId: parseSpiffeId('spiffe://other.org/w'),
        publicKey: leafKey,
        ttl: durationMs(HOUR),
      }),
      (err) => isParleyError(err, 'invalid-argument'),
    );
    // X509-SVID §3.2: a signing certificate may issue signing certificates of other trust domains.
    await minter.mintSigningCertificate({
      trustDomain: OTHER_TD,
      publicKey: intermediateSigner.publicKey,
      ttl: durationMs(HOUR),
    });
  });
});

describe('X509Minter.mintSigningCertificate', () => {
  it('mints an intermediate that Node verifies, and leaves it can sign', async () => {
    const root = await mintRoot(signers['rsa-2048']);
    const minted = await new X509Minter(root.authority, clock).mintSigningCertificate({
      trustDomain: TD,
      publicKey: intermediateSigner.publicKey,
      ttl: durationMs(DAY),
      pathLen: 0,
    });
    const x509 = new X509Certificate(minted.der);
    assert.equal(x509.ca, true);
    assert.ok(x509.checkIssued(root.x509));
    assert.ok(x509.verify(root.x509.publicKey));
    assert.ok(x509.publicKey.equals(intermediateSigner.publicKey));
    assert.equal(x509.subjectAltName, 'URI:spiffe://example.org');
    assert.equal(nodeTime(x509.validFrom), NOW - BACKDATE_MS);
    assert.equal(nodeTime(x509.validTo), NOW + DAY);
    const cert = parseCertificate(minted.der);
    assert.equal(signingCertificateProblem(cert), undefined);
    assert.deepEqual(cert.basicConstraints, { ca: true, pathLen: 0 });

    const intermediate: X509Authority = { signer: intermediateSigner, certificate: cert };
    const leaf = await mintLeaf(intermediate);
    const leafX509 = new X509Certificate(leaf.der);
    assert.ok(leafX509.checkIssued(x509));
    assert.ok(leafX509.verify(intermediateSigner.publicKey));
    assert.ok(!leafX509.verify(root.x509.publicKey));
    const result = verifyX509Svid(
      [leaf.der, minted.der],
      bundleSet(bundleOf(TD, root.minted.der)),
      clock,
    );
    assert.ok(result.ok, result.ok ? '' : result.reason);
    assert.equal(result.svid.path.length, 3);
    assert.equal(result.svid.certificates.length, 2);
    // Without the intermediate there is no path.
    assert.match(
      reason(verifyX509Svid([leaf.der], bundleSet(bundleOf(TD, root.minted.der)), clock)),
      /unknown authority/,
    );
    // The intermediate can also be the bundle authority itself.
    assert.ok(verifyX509Svid([leaf.der], bundleSet(bundleOf(TD, minted.der)), clock).ok);
  });
});

describe('verifyX509Svid', () => {
  it('checks validity with the given clock, inclusive of both bounds', async () => {
    const root = await mintRoot(signers['ec-p256']);
    const leaf = await mintLeaf(root.authority);
    const bundles = bundleSet(bundleOf(TD, root.minted.der));
    const at = (ms: number) => verifyX509Svid([leaf.der], bundles, fixedClock(ms));
    assert.ok(at(leaf.notBefore).ok);
    assert.ok(at(leaf.notAfter).ok);
    assert.match(reason(at(leaf.notAfter + 1)), /leaf certificate has expired/);
    assert.match(reason(at(NOW + DAY)), /leaf certificate has expired/);
    assert.match(reason(at(leaf.notBefore - 1)), /leaf certificate is not yet valid/);
  });

  it('rejects an expired or not yet valid authority', async () => {
    // The leaf outlives its root only when the root is re-minted with the same key and name.
    const longRoot = await mintRoot(signers['ec-p256'], { ttl: 10 * DAY });
    const leaf = await mintLeaf(longRoot.authority, { ttl: 5 * DAY });
    const shortRoot = await mintRoot(signers['ec-p256'], { ttl: DAY });
    const lateRoot = await mintRoot(signers['ec-p256'], { at: fixedClock(NOW + DAY) });
    const expired = verifyX509Svid(
      [leaf.der],
      bundleSet(bundleOf(TD, shortRoot.minted.der)),
      fixedClock(NOW + 2 * DAY),
    );
    assert.match(reason(expired), /authority certificate has expired/);
    const early = verifyX509Svid([leaf.der], bundleSet(bundleOf(TD, lateRoot.minted.der)), clock);
    assert.match(reason(early), /authority certificate is not yet valid/);
  });

  it('rejects a leaf signed by an unknown authority', async () => {
    const root = await mintRoot(signers['ec-p256']);
    const other = await mintRoot(otherRootSigner);
    const leaf = await mintLeaf(root.authority);
    const result = verifyX509Svid([leaf.der], bundleSet(bundleOf(TD, other.minted.der)), clock);
    assert.equal(
      reason(result),
      'could not verify leaf certificate: certificate signed by unknown authority',
    );
    assert.ok(
      verifyX509Svid([leaf.der], bundleSet(bundleOf(TD, other.minted.der, root.minted.der)), clock)
        .ok,
    );
  });

  it('uses only the bundle of the leaf’s own trust domain', async () => {
    const root = await mintRoot(signers['ec-p256']);
    const leaf = await mintLeaf(root.authority);
    const wrongTd = verifyX509Svid(
      [leaf.der],
      bundleSet(bundleOf(OTHER_TD, root.minted.der)),
      clock,
    );
    assert.equal(reason(wrongTd), 'no bundle found for trust domain "example.org"');
    const otherRoot = await mintRoot(otherRootSigner, { td: OTHER_TD });
    const both = bundleSet(bundleOf(OTHER_TD, root.minted.der), bundleOf(TD, otherRoot.minted.der));
    assert.match(reason(verifyX509Svid([leaf.der], both, clock)), /unknown authority/);
    const empty = verifyX509Svid([leaf.der], bundleSet(bundleOf(TD)), clock);
    assert.match(reason(empty), /has no X\.509 authorities/);
  });

  it('enforces pathLen of the authorities', async () => {
    const root0 = await mintRoot(signers['ec-p384'], { pathLen: 0 });
    const root1 = await mintRoot(signers['ec-p384'], { pathLen: 1 });
    const inter = await new X509Minter(root1.authority, clock).mintSigningCertificate({
      trustDomain: TD,
      publicKey: intermediateSigner.publicKey,
      ttl: durationMs(DAY),
    });
    const leaf = await mintLeaf({
      signer: intermediateSigner,
      certificate: parseCertificate(inter.der),
    });
    assert.ok(
      verifyX509Svid([leaf.der, inter.der], bundleSet(bundleOf(TD, root1.minted.der)), clock).ok,
    );
    // root0 has the same key and name, so its signature on the intermediate checks out.
    const result = verifyX509Svid(
      [leaf.der, inter.der],
      bundleSet(bundleOf(TD, root0.minted.der)),
      clock,
    );
    assert.match(reason(result), /allows 0 intermediates below it, found 1/);
  });

  it(`accepts a chain of ${MAX_CHAIN_LENGTH} and rejects a longer one before checking signatures`, async () => {
    const root = await mintRoot(signers['ec-p256']);
    // authorities[i] is the (i+1)th intermediate below the root.
    const authorities: X509Authority[] = [];
    const ders: Uint8Array[] = [];
    let issuer = root.authority;
    for (let i = 0; i < MAX_CHAIN_LENGTH; i++) {
      const signer = keyObjectSigner(generateKey('ec-p256'));
      const minted = await new X509Minter(issuer, clock).mintSigningCertificate({
        trustDomain: TD,
        publicKey: signer.publicKey,
        ttl: durationMs(DAY),
      });
      ders.push(minted.der);
      issuer = { signer, certificate: parseCertificate(minted.der) };
      authorities.push(issuer);
    }
    const bundles = bundleSet(bundleOf(TD, root.minted.der));
    const chainUnder = async (n: number) => [
      (await mintLeaf(authorities[n - 1] as X509Authority)).der,
      ...ders.slice(0, n).reverse(),
    ];

    const longest = await chainUnder(MAX_CHAIN_LENGTH - 1);
    assert.equal(longest.length, MAX_CHAIN_LENGTH);
    const ok = verifyX509Svid(longest, bundles, clock);
    assert.ok(ok.ok, ok.ok ? '' : ok.reason);
    assert.equal(ok.svid.path.length, MAX_CHAIN_LENGTH + 1);

    const tooLong = await chainUnder(MAX_CHAIN_LENGTH);
    assert.equal(tooLong.length, MAX_CHAIN_LENGTH + 1);
    assert.equal(
      reason(verifyX509Svid(tooLong, bundles, clock)),
      `certificate chain longer than ${MAX_CHAIN_LENGTH}`,
    );
    // Node agrees the long chain is well formed, link by link.
    for (let i = 0; i + 1 < tooLong.length; i++) {
      const child = new X509Certificate(tooLong[i] ?? new Uint8Array());
      const parent = new X509Certificate(tooLong[i + 1] ?? new Uint8Array());
      assert.ok(child.checkIssued(parent) && child.verify(parent.publicKey), `link ${i}`);
    }
    // The limit holds before any parsing or signature check.
    const garbage = Array<Uint8Array>(MAX_CHAIN_LENGTH + 1).fill(new Uint8Array([0]));
    assert.equal(
      reason(verifyX509Svid(garbage, bundles, clock)),
      `certificate chain longer than ${MAX_CHAIN_LENGTH}`,
    );
  });

  it('rejects empty chains, garbage, and chains that do not start with a leaf', async () => {
    const root = await mintRoot(signers['ec-p256']);
    const bundles = bundleSet(bundleOf(TD, root.minted.der));
    assert.equal(reason(verifyX509Svid([], bundles, clock)), 'empty certificate chain');
    assert.match(
      reason(verifyX509Svid([new Uint8Array([0x30, 0x03, 1, 2])], bundles, clock)),
      /malformed certificate/,
    );
    assert.match(reason(verifyX509Svid([root.minted.der], bundles, clock)), /non-root path/);
    const inter = await new X509Minter(root.authority, clock).mintSigningCertificate({
      trustDomain: TD,
      publicKey: intermediateSigner.publicKey,
      ttl: durationMs(DAY),
    });
    const leaf = await mintLeaf({
      signer: intermediateSigner,
      certificate: parseCertificate(inter.der),
    });
    assert.match(reason(verifyX509Svid([inter.der, leaf.der], bundles, clock)), /non-root path|cA/);
    // Extra, unrelated certificates in the chain do not matter.
    const other = await mintRoot(otherRootSigner);
    assert.ok(verifyX509Svid([leaf.der, other.minted.der, inter.der], bundles, clock).ok);
  });

  it('rejects a certificate whose signature was tampered with', async () => {
    const root = await mintRoot(signers['ec-p256']);
    const leaf = await mintLeaf(root.authority);
    const bundles = bundleSet(bundleOf(TD, root.minted.der));
    const tampered = Buffer.from(leaf.der);
    // Flip a bit inside the SPIFFE ID (in the signed TBS); it stays a valid ID.
    const at = tampered.indexOf('sa/web');
    assert.ok(at > 0);
    tampered[at + 3] = 'W'.charCodeAt(0);
    assert.ok(checkLeafProfile(parseCertificate(tampered)).ok);
    assert.ok(!new X509Certificate(tampered).verify(root.x509.publicKey));
    assert.match(reason(verifyX509Svid([tampered], bundles, clock)), /unknown authority/);
  });
});

describe('parseCertificate', () => {
  it('agrees with Node on the fields of minted certificates', async () => {
    const root = await mintRoot(signers['ec-p384']);
    for (const der of [
      root.minted.der,
      (await mintLeaf(root.authority, { dnsNames: ['a.example.org'] })).der,
    ]) {
      const cert: Certificate = parseCertificate(der);
      const x509 = new X509Certificate(der);
      assert.equal(Buffer.from(cert.serialNumber).toString('hex').toUpperCase(), x509.serialNumber);
      assert.equal(cert.notBefore, nodeTime(x509.validFrom));
      assert.equal(cert.notAfter, nodeTime(x509.validTo));
      assert.ok(certificatePublicKey(cert).equals(x509.publicKey));
      assert.equal(cert.basicConstraints?.ca ?? false, x509.ca);
      const sans = [...cert.uris.map((u) => `URI:${u}`), ...cert.dnsNames.map((d) => `DNS:${d}`)];
      assert.equal(sans.join(', '), x509.subjectAltName);
      assert.ok(Buffer.from(cert.raw).equals(x509.raw));
      assert.ok(
        createPublicKey({
          key: Buffer.from(cert.subjectPublicKeyInfo),
          format: 'der',
          type: 'spki',
        }).equals(x509.publicKey),
      );
    }
  });

  it('rejects truncated, padded and oversized input', async () => {
    const root = await mintRoot(signers['ec-p256']);
    const der = root.minted.der;
    for (const bad of [
      der.subarray(0, der.length - 1),
      der.subarray(0, 10),
      Buffer.concat([der, Buffer.of(0)]),
      new Uint8Array(0),
    ]) {
      assert.throws(
        () => parseCertificate(bad),
        (err) => isParleyError(err, 'invalid-argument'),
      );
    }
    assert.throws(
      () => parseCertificate(new Uint8Array(MAX_CERTIFICATE_BYTES + 1)),
      (err) => isParleyError(err, 'invalid-argument') && /64 KiB/.test(err.message),
    );
  });
});

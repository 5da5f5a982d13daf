import assert from 'node:assert/strict';
import { type KeyObject, createPublicKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type Bundle,
  type Certificate,
  type Clock,
  X509Minter,
  bundleSet,
  durationMs,
  encodePem,
  generateKey,
  keyObjectSigner,
  mintSelfSignedRoot,
  parseCertificate,
  parseSpiffeId,
  parseTrustDomain,
  verifyX509Svid,
} from '@parley/core';
import { makeTempDir } from '@parley/testing';
import { MemoryKeyManager } from '../key-manager/memory-key-manager.js';
import { MemoryAuthorityJournal } from './authority-journal.js';
import { Ca } from './ca.js';
import { loadUpstreamAuthority } from './upstream-authority.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2030, 0, 1);
const enterprise = parseTrustDomain('enterprise-root.example');
const downstream = parseTrustDomain('downstream.example');
const workload = parseSpiffeId('spiffe://downstream.example/shop/cart');
const leafKey = createPublicKey(generateKey('ec-p256'));

class FakeClock implements Clock {
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
}

interface UpstreamFixture {
  readonly root: Certificate;
  readonly keyFile: string;
  readonly certChainFile: string;
}

/** An enterprise root (and optionally an intermediate under it) minted with core, as PEM files. */
async function writeUpstream(
  dir: string,
  clock: Clock,
  options: { withIntermediate?: boolean; rootTtl?: number } = {},
): Promise<UpstreamFixture> {
  const rootKey = generateKey('ec-p384');
  const rootSigner = keyObjectSigner(rootKey);
  const rootDer = await mintSelfSignedRoot(
    rootSigner,
    { trustDomain: enterprise, ttl: durationMs(options.rootTtl ?? 365 * DAY) },
    clock,
  );
  const root = parseCertificate(rootDer.der);
  let signingKey: KeyObject = rootKey;
  const chain = [rootDer.der];
  if (options.withIntermediate === true) {
    signingKey = generateKey('ec-p256');
    const minter = new X509Minter({ signer: rootSigner, certificate: root }, clock);
    const intermediate = await minter.mintSigningCertificate({
      trustDomain: enterprise,
      publicKey: createPublicKey(signingKey),
      ttl: durationMs(180 * DAY),
    });
    chain.unshift(intermediate.der);
  }
  const keyFile = join(dir, 'upstream.key');
  const certChainFile = join(dir, 'upstream.pem');
  await writeFile(keyFile, signingKey.export({ format: 'pem', type: 'sec1' }), { mode: 0o600 });
  await writeFile(certChainFile, chain.map((der) => encodePem('CERTIFICATE', der)).join(''));
  return { root, keyFile, certChainFile };
}

function only(root: Certificate): Bundle {
  return { trustDomain: downstream, x509Authorities: [root], jwtAuthorities: new Map() };
}

describe('Ca under an upstream authority', () => {
  it('signs as an intermediate; the bundle holds only the upstream root', async () => {
    await using tmp = await makeTempDir();
    const clock = new FakeClock(T0);
    const fixture = await writeUpstream(tmp.path, clock);
    const upstream = await loadUpstreamAuthority(fixture, clock);
    const ca = await Ca.open(
      { trustDomain: downstream, upstream },
      { keyManager: new MemoryKeyManager(), journal: new MemoryAuthorityJournal(), clock },
    );
    const bundle = ca.bundle();
    assert.equal(bundle.x509Authorities.length, 1);
    assert.deepEqual(
      Buffer.from(bundle.x509Authorities[0]?.raw ?? []),
      Buffer.from(fixture.root.raw),
    );

    const active = ca.slots('x509').active;
    assert.ok(active);
    assert.equal(active.upstreamAuthorityId, upstream.id);
    assert.equal(active.certChain.length, 2);
    const intermediate = parseCertificate(active.certChain[0] ?? new Uint8Array());
    assert.deepEqual(intermediate.uris, ['spiffe://downstream.example']);
    assert.equal(Buffer.from(intermediate.authorityKeyId ?? []).toString('hex'), upstream.id);

    const svid = await ca.mintX509Svid({
      spiffeId: workload,
      publicKey: leafKey,
      ttl: durationMs(HOUR),
    });
    assert.equal(svid.certChain.length, 2);
    assert.deepEqual(Buffer.from(svid.certChain[1] ?? []), Buffer.from(active.certChain[0] ?? []));
    const result = verifyX509Svid(svid.certChain, bundleSet(only(fixture.root)), clock);
    assert.ok(result.ok, result.ok ? '' : result.reason);
    assert.equal(result.svid.path.length, 3);

    // Rotation: a new intermediate under the same root; the bundle's content does not change.
    const seq = bundle.sequenceNumber ?? 0n;
    clock.t = T0 + 12 * HOUR;
    await ca.rotate();
    const next = ca.slots('x509').prepared;
    assert.ok(next);
    assert.equal(ca.bundle().x509Authorities.length, 1);
    assert.ok((ca.bundle().sequenceNumber ?? 0n) > seq);
    clock.t = T0 + 20 * HOUR;
    await ca.rotate();
    const after = await ca.mintX509Svid({
      spiffeId: workload,
      publicKey: leafKey,
      ttl: durationMs(HOUR),
    });
    assert.equal(after.authorityId, next.id);
    assert.ok(verifyX509Svid(after.certChain, bundleSet(only(fixture.root)), clock).ok);

    // The old intermediate can be tainted (agents re-issue), but revoking it would remove nothing.
    assert.ok((await ca.taint('x509', active.id)).ok);
    assert.deepEqual(ca.taintedAuthorityIds('x509'), [active.id]);
    const revoked = await ca.revoke('x509', active.id);
    assert.ok(!revoked.ok);
    assert.equal(revoked.refusal.reason, 'upstream-authority');
    assert.match(revoked.message, /upstream authority/);
  });

  it('carries the upstream intermediate in SVID chains and stops at the root', async () => {
    await using tmp = await makeTempDir();
    const clock = new FakeClock(T0);
    const fixture = await writeUpstream(tmp.path, clock, { withIntermediate: true });
    const upstream = await loadUpstreamAuthority(fixture, clock);
    assert.equal(upstream.chain.length, 2);
    const ca = await Ca.open(
      { trustDomain: downstream, upstream, x509: { keyType: 'rsa-2048' } },
      { keyManager: new MemoryKeyManager(), journal: new MemoryAuthorityJournal(), clock },
    );
    const svid = await ca.mintX509Svid({
      spiffeId: workload,
      publicKey: leafKey,
      ttl: durationMs(HOUR),
    });
    assert.equal(svid.certChain.length, 3);
    assert.deepEqual(
      Buffer.from(svid.certChain[2] ?? []),
      Buffer.from(upstream.chain[0]?.raw ?? []),
    );
    assert.equal(ca.bundle().x509Authorities.length, 1);
    const result = verifyX509Svid(svid.certChain, bundleSet(only(fixture.root)), clock);
    assert.ok(result.ok, result.ok ? '' : result.reason);
    assert.equal(result.svid.path.length, 4);
    // Downstream CAs chain the same way.
    const child = await ca.mintX509Ca({ publicKey: leafKey, ttl: durationMs(HOUR) });
    assert.equal(child.certChain.length, 3);
  });

  it('lives no longer than the upstream certificate, and rotates by that lifetime', async () => {
    await using tmp = await makeTempDir();
    const clock = new FakeClock(T0);
    const fixture = await writeUpstream(tmp.path, clock, { rootTtl: 12 * HOUR });
    const upstream = await loadUpstreamAuthority(fixture, clock);
    const ca = await Ca.open(
      { trustDomain: downstream, upstream },
      { keyManager: new MemoryKeyManager(), journal: new MemoryAuthorityJournal(), clock },
    );
    const active = ca.slots('x509').active;
    assert.equal(active?.notAfter, fixture.root.notAfter);
    clock.t = T0 + 6 * HOUR;
    await ca.rotate();
    assert.ok(ca.slots('x509').prepared, 'prepared at half of the granted 12h');
  });
});

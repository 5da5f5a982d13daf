import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  type Bundle,
  type Clock,
  type Duration,
  type KeyType,
  bundleSet,
  certificatePublicKey,
  durationMs,
  generateKey,
  isParleyError,
  parseCertificate,
  parseSpiffeId,
  parseTrustDomain,
  verifyJwtSvid,
  verifyX509Svid,
} from '@parley/core';
import { MemoryKeyManager } from '../key-manager/memory-key-manager.js';
import { MemoryAuthorityJournal } from './authority-journal.js';
import { type CaChange, type CaConfig, type CaEvent, Ca } from './ca.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2030, 0, 1);
const td = parseTrustDomain('example.org');
const workload = parseSpiffeId('spiffe://example.org/workload');

class FakeClock implements Clock {
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
}

async function openCa(config: Partial<CaConfig> = {}) {
  const clock = new FakeClock(T0);
  const keyManager = new MemoryKeyManager();
  const journal = new MemoryAuthorityJournal();
  const events: CaEvent[] = [];
  const ca = await Ca.open(
    { trustDomain: td, ...config },
    { keyManager, journal, clock, log: (e) => events.push(e) },
  );
  return { ca, clock, keyManager, journal, events };
}

const leafKey = createPublicKey(generateKey('ec-p256'));

async function mintSvid(ca: Ca, ttl: Duration = durationMs(HOUR)) {
  return ca.mintX509Svid({ spiffeId: workload, publicKey: leafKey, ttl });
}

/** A bundle holding only the given X.509 authority (by id), to show which root an SVID needs. */
function onlyRoot(ca: Ca, id: string): Bundle {
  const record = ca.x509Authorities().find((r) => r.id === id);
  const root = record?.certChain[record.certChain.length - 1];
  assert.ok(root);
  return { trustDomain: td, x509Authorities: [parseCertificate(root)], jwtAuthorities: new Map() };
}

function rootIds(bundle: Bundle): string[] {
  return bundle.x509Authorities.map((c) => Buffer.from(c.subjectKeyId ?? []).toString('hex'));
}

describe('Ca', () => {
  it('bootstraps an active X.509 authority and JWT key, both in the bundle', async () => {
    const { ca, journal, keyManager } = await openCa();
    const x509 = ca.slots('x509');
    const jwt = ca.slots('jwt');
    assert.ok(x509.active && jwt.active);
    assert.equal(x509.prepared, undefined);
    assert.match(jwt.active.id, /^[A-Za-z0-9]{32}$/);
    assert.match(x509.active.id, /^[0-9a-f]{40}$/);
    assert.equal(x509.active.notAfter, T0 + DAY);
    const bundle = ca.bundle();
    assert.deepEqual(rootIds(bundle), [x509.active.id]);
    assert.deepEqual([...bundle.jwtAuthorities.keys()], [jwt.active.id]);
    assert.ok((bundle.sequenceNumber ?? 0n) > 0n);
    assert.equal(bundle.refreshHint, 300);
    assert.equal((await journal.load()).length, 2);
    assert.deepEqual(
      (await keyManager.listKeys()).map((k) => k.id).sort(),
      [x509.active.keyId, jwt.active.keyId].sort(),
    );
  });

  it('rotates a 24h CA on schedule: both roots in the bundle from 12h, the new one signing from 20h', async () => {
    const { ca, clock, journal } = await openCa();
    const first = ca.slots('x509').active;
    assert.ok(first);
    const seq0 = ca.bundle().sequenceNumber ?? 0n;

    clock.t = T0 + 12 * HOUR - 1000;
    await ca.rotate();
    assert.equal(ca.slots('x509').prepared, undefined);
    assert.equal(ca.bundle().sequenceNumber, seq0);

    clock.t = T0 + 12 * HOUR;
    await ca.rotate();
    const next = ca.slots('x509').prepared;
    assert.ok(next);
    assert.equal(next.issuedAt, T0 + 12 * HOUR);
    assert.deepEqual(rootIds(ca.bundle()), [first.id, next.id]);
    const seq1 = ca.bundle().sequenceNumber ?? 0n;
    assert.ok(seq1 > seq0);
    // Until activation the current authority still signs.
    const before = await mintSvid(ca, durationMs(10 * HOUR));
    assert.equal(before.authorityId, first.id);

    clock.t = T0 + 20 * HOUR - 1000;
    await ca.rotate();
    assert.equal(ca.slots('x509').active?.id, first.id);

    clock.t = T0 + 20 * HOUR;
    await ca.rotate();
    assert.equal(ca.slots('x509').active?.id, next.id);
    assert.equal(ca.slots('x509').old?.id, first.id);
    const after = await mintSvid(ca);
    assert.equal(after.authorityId, next.id);
    assert.deepEqual(after.certChain.length, 1);
    assert.ok(verifyX509Svid(after.certChain, bundleSet(onlyRoot(ca, next.id)), clock).ok);
    assert.ok(!verifyX509Svid(after.certChain, bundleSet(onlyRoot(ca, first.id)), clock).ok);
    assert.ok(verifyX509Svid(after.certChain, bundleSet(ca.bundle()), clock).ok);
    // SVIDs of the old authority still verify against the bundle until it expires.
    assert.ok(verifyX509Svid(before.certChain, bundleSet(ca.bundle()), clock).ok);

    // At 24h the first expires and leaves the bundle, just as the second (issued at 12h) reaches
    // its own preparation threshold.
    clock.t = T0 + DAY;
    await ca.rotate();
    // Retired and expired, it is dropped from memory; the journal keeps its final state.
    assert.equal(
      ca.x509Authorities().find((r) => r.id === first.id),
      undefined,
    );
    const saved = (await journal.load()).find((r) => r.id === first.id);
    assert.equal(saved?.status, 'retired');
    const third = ca.slots('x509').prepared;
    assert.ok(third);
    assert.deepEqual(rootIds(ca.bundle()), [next.id, third.id]);
  });

  it('rotates a 1-year CA: prepare at 335 days, activate at 358 days', async () => {
    const { ca, clock } = await openCa({ x509: { ttl: durationMs(365 * DAY) } });
    const first = ca.slots('x509').active;
    assert.equal(first?.notAfter, T0 + 365 * DAY);
    clock.t = T0 + 335 * DAY - 1000;
    await ca.rotate();
    assert.equal(ca.slots('x509').prepared, undefined);
    clock.t = T0 + 335 * DAY;
    await ca.rotate();
    const next = ca.slots('x509').prepared;
    assert.ok(next);
    clock.t = T0 + 358 * DAY - 1000;
    await ca.rotate();
    assert.equal(ca.slots('x509').active?.id, first?.id);
    clock.t = T0 + 358 * DAY;
    await ca.rotate();
    assert.equal(ca.slots('x509').active?.id, next.id);
  });

  it('carries out manual prepare, activate, taint and revoke, refusing illegal transitions', async () => {
    const { ca, clock, keyManager } = await openCa();
    const changes: CaChange[] = [];
    ca.onChange((c) => changes.push(c));
    const first = ca.slots('x509').active;
    assert.ok(first);

    const early = await ca.activate('x509');
    assert.ok(!early.ok);
    assert.equal(early.refusal.reason, 'nothing-prepared');

    clock.t += HOUR;
    const prepared = await ca.prepare('x509');
    assert.ok(prepared.ok);
    const next = prepared.authority;
    assert.equal(next.status, 'prepared');
    assert.deepEqual(rootIds(ca.bundle()), [first.id, next.id]);
    assert.equal(changes.length, 1);
    assert.equal(changes[0]?.activeX509AuthorityId, first.id);

    const wrong = await ca.activate('x509', first.id);
    assert.ok(!wrong.ok);
    assert.match(wrong.message, /only the prepared authority can be activated, and it is active/);
    const taintPrepared = await ca.taint('x509', next.id);
    assert.ok(!taintPrepared.ok && taintPrepared.refusal.reason === 'prepared-authority');

    const activated = await ca.activate('x509', next.id);
    assert.ok(activated.ok && activated.authority.status === 'active');
    assert.equal(changes.at(-1)?.activeX509AuthorityId, next.id);
    const svid = await mintSvid(ca);
    assert.ok(verifyX509Svid(svid.certChain, bundleSet(onlyRoot(ca, next.id)), clock).ok);

    const revokeActive = await ca.revoke('x509', next.id);
    assert.ok(!revokeActive.ok);
    assert.equal(revokeActive.refusal.reason, 'active-authority');
    assert.match(revokeActive.message, /cannot revoke the active X\.509 authority/);
    const revokeUntainted = await ca.revoke('x509', first.id);
    assert.ok(!revokeUntainted.ok && revokeUntainted.refusal.reason === 'not-tainted');

    const tainted = await ca.taint('x509', first.id);
    assert.ok(tainted.ok && tainted.authority.status === 'tainted');
    assert.deepEqual(ca.taintedAuthorityIds('x509'), [first.id]);
    assert.deepEqual(changes.at(-1)?.taintedX509AuthorityIds, [first.id]);
    // Tainted, the old root is still trusted: agents re-issue before it is revoked.
    assert.deepEqual(rootIds(ca.bundle()), [first.id, next.id]);
    const again = await ca.taint('x509', first.id);
    assert.ok(!again.ok && again.refusal.reason === 'already-tainted');

    const seqBefore = ca.bundle().sequenceNumber ?? 0n;
    const revoked = await ca.revoke('x509', first.id);
    assert.ok(revoked.ok && revoked.authority.status === 'revoked');
    assert.deepEqual(rootIds(ca.bundle()), [next.id]);
    assert.ok((ca.bundle().sequenceNumber ?? 0n) > seqBefore);
    assert.deepEqual(ca.taintedAuthorityIds('x509'), []);
    const twice = await ca.revoke('x509', first.id);
    assert.ok(!twice.ok && twice.refusal.reason === 'not-in-bundle');
    const unknown = await ca.taint('x509', 'ffff');
    assert.ok(!unknown.ok && unknown.refusal.reason === 'unknown-authority');
    // Only the active authority keeps a key.
    assert.deepEqual(
      (await keyManager.listKeys()).map((k) => k.id).filter((id) => id.startsWith('ca-x509-')),
      [next.keyId],
    );
    // Sequence numbers only go up.
    const seqs = changes.map((c) => c.bundle.sequenceNumber ?? 0n);
    assert.deepEqual(
      [...seqs].sort((a, b) => (a < b ? -1 : 1)),
      seqs,
    );
    assert.equal(new Set(seqs).size, seqs.length);
  });

  it('rotates JWT keys with the same lifecycle', async () => {
    const { ca, clock } = await openCa({ jwt: { ttl: durationMs(DAY) } });
    const first = ca.slots('jwt').active;
    assert.ok(first);
    const audience = ['api'];
    const t1 = await ca.mintJwtSvid({ spiffeId: workload, audience, ttl: durationMs(5 * 60_000) });
    const v1 = verifyJwtSvid(t1.token, bundleSet(ca.bundle()), audience, clock);
    assert.ok(v1.ok && v1.svid.keyId === first.id);

    clock.t = T0 + 12 * HOUR;
    await ca.rotate();
    const next = ca.slots('jwt').prepared;
    assert.ok(next && next.id !== first.id);
    assert.deepEqual([...ca.bundle().jwtAuthorities.keys()], [first.id, next.id]);
    clock.t = T0 + 20 * HOUR;
    await ca.rotate();
    assert.equal(ca.slots('jwt').active?.id, next.id);
    const t2 = await ca.mintJwtSvid({ spiffeId: workload, audience, ttl: durationMs(5 * 60_000) });
    const v2 = verifyJwtSvid(t2.token, bundleSet(ca.bundle()), audience, clock);
    assert.ok(v2.ok && v2.svid.keyId === next.id);

    // A token of the old key verifies until the key is tainted and revoked.
    const old = await ca.mintJwtSvid({ spiffeId: workload, audience, ttl: durationMs(HOUR) });
    assert.ok(verifyJwtSvid(old.token, bundleSet(ca.bundle()), audience, clock).ok);
    assert.ok((await ca.taint('jwt', first.id)).ok);
    assert.deepEqual(ca.taintedAuthorityIds('jwt'), [first.id]);
    assert.ok((await ca.revoke('jwt', first.id)).ok);
    assert.deepEqual([...ca.bundle().jwtAuthorities.keys()], [next.id]);
    assert.ok(
      !verifyJwtSvid(t1.token, bundleSet(ca.bundle()), audience, { now: () => T0 + 60_000 }).ok,
    );

    const jwtRevokeActive = await ca.revoke('jwt', next.id);
    assert.ok(!jwtRevokeActive.ok);
    assert.match(jwtRevokeActive.message, /cannot revoke the active JWT authority/);
  });

  it('caps SVIDs at the authority and checks requests at the edge', async () => {
    const { ca, clock } = await openCa();
    clock.t = T0 + DAY - HOUR;
    // Past the activation threshold without a rotation: the old CA's expiry caps the SVID.
    const svid = await ca.mintX509Svid({
      spiffeId: workload,
      publicKey: leafKey.export({ type: 'spki', format: 'der' }),
      ttl: durationMs(2 * HOUR),
      dnsNames: ['workload.example.org'],
    });
    assert.equal(svid.expiresAt, T0 + DAY);
    const leaf = parseCertificate(svid.certChain[0] ?? new Uint8Array());
    assert.deepEqual(leaf.dnsNames, ['workload.example.org']);
    assert.ok(certificatePublicKey(leaf).equals(leafKey));

    await assert.rejects(
      ca.mintX509Svid({
        spiffeId: workload,
        publicKey: new Uint8Array([0x30, 0x00]),
        ttl: durationMs(HOUR),
      }),
      (e: unknown) =>
        isParleyError(e, 'invalid-argument') && /subjectPublicKeyInfo/i.test(e.message),
    );
    await assert.rejects(
      ca.mintX509Svid({
        spiffeId: parseSpiffeId('spiffe://other.org/w'),
        publicKey: leafKey,
        ttl: durationMs(HOUR),
      }),
      /not in trust domain example\.org/,
    );
    await assert.rejects(mintSvid(ca, durationMs(0)), /TTL must be positive/);
    await assert.rejects(
      ca.mintJwtSvid({
        spiffeId: parseSpiffeId('spiffe://other.org/w'),
        audience: ['a'],
        ttl: durationMs(HOUR),
      }),
      /not in trust domain example\.org/,
    );
    await assert.rejects(
      ca.mintJwtSvid({ spiffeId: workload, audience: [], ttl: durationMs(HOUR) }),
      /audience/,
    );
  });

  it('mints a downstream CA whose SVIDs verify against the bundle', async () => {
    const { ca, clock } = await openCa();
    const downstreamKey = generateKey('ec-p256');
    const minted = await ca.mintX509Ca({
      publicKey: createPublicKey(downstreamKey),
      ttl: durationMs(6 * HOUR),
    });
    assert.equal(minted.certChain.length, 1);
    const caCert = parseCertificate(minted.certChain[0] ?? new Uint8Array());
    assert.equal(caCert.basicConstraints?.ca, true);
    assert.deepEqual(caCert.uris, ['spiffe://example.org']);
    const { X509Minter, keyObjectSigner } = await import('@parley/core');
    const downstream = new X509Minter(
      { signer: keyObjectSigner(downstreamKey), certificate: caCert },
      clock,
    );
    const leaf = await downstream.mintSvid({
      spiffeId: workload,
      publicKey: leafKey,
      ttl: durationMs(HOUR),
    });
    const result = verifyX509Svid([leaf.der, ...minted.certChain], bundleSet(ca.bundle()), clock);
    assert.ok(result.ok, result.ok ? '' : result.reason);
  });

  for (const keyType of ['ec-p384', 'rsa-2048'] as const satisfies readonly KeyType[]) {
    it(`works with ${keyType} authorities`, async () => {
      const { ca, clock } = await openCa({ x509: { keyType }, jwt: { keyType } });
      assert.equal(ca.slots('x509').active?.keyType, keyType);
      const svid = await mintSvid(ca);
      assert.ok(verifyX509Svid(svid.certChain, bundleSet(ca.bundle()), clock).ok);
      const jwt = await ca.mintJwtSvid({
        spiffeId: workload,
        audience: ['a'],
        ttl: durationMs(HOUR),
      });
      assert.ok(verifyJwtSvid(jwt.token, bundleSet(ca.bundle()), ['a'], clock).ok);
    });
  }

  it('refuses key types outside the CA list', async () => {
    await assert.rejects(
      openCa({ x509: { keyType: 'rsa-4096' } }),
      /unsupported X\.509 authority key type rsa-4096/,
    );
  });

  it('leaves its state untouched when the journal write fails', async () => {
    const { ca, journal, keyManager } = await openCa();
    const bundle = ca.bundle();
    const keys = (await keyManager.listKeys()).length;
    journal.failSaves(1);
    await assert.rejects(ca.prepare('x509'), /injected fault/);
    assert.equal(ca.bundle(), bundle);
    assert.equal(ca.slots('x509').prepared, undefined);
    // The key generated for the failed prepare is not left behind.
    assert.equal((await keyManager.listKeys()).length, keys);
    const retry = await ca.prepare('x509');
    assert.ok(retry.ok);
    assert.ok((ca.bundle().sequenceNumber ?? 0n) > (bundle.sequenceNumber ?? 0n));
  });

  it('runs the policy on a timer of the injected clock, waking at each threshold', async () => {
    const clock = new FakeClock(T0);
    // A 25h CA: prepare at 12h30m, activate at 20h50m, not on interval boundaries.
    const ttl = durationMs(25 * HOUR);
    const events: { at: number; active: string | undefined; prepared: string | undefined }[] = [];
    let sleeps = 0;
    const controller = new AbortController();
    const ca = await Ca.open(
      { trustDomain: td, x509: { ttl }, jwt: { ttl }, checkInterval: durationMs(HOUR) },
      {
        keyManager: new MemoryKeyManager(),
        journal: new MemoryAuthorityJournal(),
        clock,
        sleep: async (ms, signal) => {
          if (clock.t >= T0 + 26 * HOUR || ++sleeps > 1000) controller.abort();
          if (signal.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
          clock.t += ms;
        },
      },
    );
    ca.onChange(() => {
      const slots = ca.slots('x509');
      events.push({ at: clock.t - T0, active: slots.active?.id, prepared: slots.prepared?.id });
    });
    await ca.run(controller.signal);
    // X.509 and JWT change at the same instants: prepare at 12h30m, activate at 20h50m, and at
    // 25h the first authority expires (retired) as the second reaches its own preparation time.
    const instants = [...new Set(events.map((e) => e.at))];
    assert.deepEqual(instants, [12.5 * HOUR, (20 * 60 + 50) * 60_000, 25 * HOUR]);
    const at = (t: number) => events.filter((e) => e.at === t);
    assert.ok(at(12.5 * HOUR).every((e) => e.prepared !== undefined));
    const second = at(12.5 * HOUR)[0]?.prepared;
    assert.ok(at((20 * 60 + 50) * 60_000).every((e) => e.active === second));
    assert.ok(sleeps < 40, `${sleeps} sleeps`);
  });

  it('logs a failed rotation and keeps running', async () => {
    const clock = new FakeClock(T0);
    const journal = new MemoryAuthorityJournal();
    const events: CaEvent[] = [];
    const controller = new AbortController();
    let sleeps = 0;
    const ca = await Ca.open(
      { trustDomain: td },
      {
        keyManager: new MemoryKeyManager(),
        journal,
        clock,
        log: (e) => events.push(e),
        sleep: async (ms, signal) => {
          if (signal.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
          clock.t += ms;
          if (++sleeps === 20) controller.abort();
        },
      },
    );
    clock.t = T0 + 12 * HOUR;
    journal.failSaves(2);
    await ca.run(controller.signal);
    assert.ok(events.some((e) => e.type === 'rotation-failed'));
    assert.ok(ca.slots('x509').prepared, 'prepared on a later pass');
  });
});

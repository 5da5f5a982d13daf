import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type Clock,
  bundleSet,
  durationMs,
  formatBundle,
  generateKey,
  parseSpiffeId,
  parseTrustDomain,
  verifyJwtSvid,
  verifyX509Svid,
} from '@parley/core';
import { makeTempDir } from '@parley/testing';
import { DiskKeyManager } from '../key-manager/disk-key-manager.js';
import { MemoryKeyManager } from '../key-manager/memory-key-manager.js';
import { MemoryAuthorityJournal } from './authority-journal.js';
import type { AuthorityRecord } from './authority-record.js';
import { type CaEvent, Ca } from './ca.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2030, 0, 1);
const td = parseTrustDomain('example.org');
const workload = parseSpiffeId('spiffe://example.org/w');
const leafKey = createPublicKey(generateKey('ec-p256'));

class FakeClock implements Clock {
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
}

describe('Ca across restarts', () => {
  it('comes back with the same authorities, bundle and keys from a disk key manager', async () => {
    await using tmp = await makeTempDir();
    const directory = join(tmp.path, 'keys');
    const clock = new FakeClock(T0);
    const journal = new MemoryAuthorityJournal();
    const first = await Ca.open(
      { trustDomain: td },
      { keyManager: await DiskKeyManager.open({ directory }), journal, clock },
    );
    clock.t += HOUR;
    assert.ok((await first.prepare('x509')).ok);
    assert.ok((await first.prepare('jwt')).ok);
    const before = first.bundle();
    const svid = await first.mintX509Svid({
      spiffeId: workload,
      publicKey: leafKey,
      ttl: durationMs(HOUR),
    });

    clock.t += HOUR;
    const second = await Ca.open(
      { trustDomain: td },
      { keyManager: await DiskKeyManager.open({ directory }), journal, clock },
    );
    assert.equal(formatBundle(second.bundle()), formatBundle(before));
    assert.deepEqual(second.slots('x509').active?.id, first.slots('x509').active?.id);
    assert.deepEqual(second.slots('x509').prepared?.id, first.slots('x509').prepared?.id);
    assert.deepEqual(second.slots('jwt').prepared?.id, first.slots('jwt').prepared?.id);
    // The reloaded keys sign: a new SVID chains to the same root as the one minted before.
    const again = await second.mintX509Svid({
      spiffeId: workload,
      publicKey: leafKey,
      ttl: durationMs(HOUR),
    });
    assert.equal(again.authorityId, svid.authorityId);
    assert.ok(verifyX509Svid(again.certChain, bundleSet(before), clock).ok);
    const jwt = await second.mintJwtSvid({
      spiffeId: workload,
      audience: ['a'],
      ttl: durationMs(HOUR),
    });
    assert.ok(verifyJwtSvid(jwt.token, bundleSet(before), ['a'], clock).ok);
    // The prepared authorities are activated from their reloaded keys too.
    assert.ok((await second.activate('x509')).ok);
    const next = await second.mintX509Svid({
      spiffeId: workload,
      publicKey: leafKey,
      ttl: durationMs(HOUR),
    });
    assert.equal(next.authorityId, first.slots('x509').prepared?.id);
    assert.ok((second.bundle().sequenceNumber ?? 0n) > (before.sequenceNumber ?? 0n));
  });

  it('refuses to start when keys fail to decrypt, changing nothing', async () => {
    await using tmp = await makeTempDir();
    const directory = join(tmp.path, 'keys');
    const clock = new FakeClock(T0);
    const journal = new MemoryAuthorityJournal();
    await Ca.open(
      { trustDomain: td },
      { keyManager: await DiskKeyManager.open({ directory }), journal, clock },
    );
    const saved = await journal.load();
    const wrongKek = await DiskKeyManager.open({
      directory,
      keyEncryptionKeyFile: join(tmp.path, 'other.kek'),
    });
    await assert.rejects(
      Ca.open({ trustDomain: td }, { keyManager: wrongKek, journal, clock }),
      /failed authentication/,
    );
    assert.deepEqual(await journal.load(), saved);
    assert.equal((await DiskKeyManager.open({ directory }).then((km) => km.listKeys())).length, 2);
  });

  it('replaces authorities whose keys are gone, keeping their roots trusted', async () => {
    const clock = new FakeClock(T0);
    const journal = new MemoryAuthorityJournal();
    const first = await Ca.open(
      { trustDomain: td },
      { keyManager: new MemoryKeyManager(), journal, clock },
    );
    const lost = first.slots('x509').active;
    assert.ok(lost);
    const events: CaEvent[] = [];
    clock.t += HOUR;
    const second = await Ca.open(
      { trustDomain: td },
      { keyManager: new MemoryKeyManager(), journal, clock, log: (e) => events.push(e) },
    );
    assert.ok(events.some((e) => e.type === 'authority-unusable' && e.id === lost.id));
    const active = second.slots('x509').active;
    assert.ok(active && active.id !== lost.id);
    assert.equal(second.x509Authorities().find((r) => r.id === lost.id)?.status, 'old');
    assert.equal(second.bundle().x509Authorities.length, 2);
    const svid = await second.mintX509Svid({
      spiffeId: workload,
      publicKey: leafKey,
      ttl: durationMs(HOUR),
    });
    assert.equal(svid.authorityId, active.id);
  });

  it('repairs a journal with two active authorities and deletes orphaned keys', async () => {
    const clock = new FakeClock(T0);
    const journal = new MemoryAuthorityJournal();
    const keyManager = new MemoryKeyManager();
    const first = await Ca.open({ trustDomain: td }, { keyManager, journal, clock });
    const prepared = await first.prepare('x509');
    assert.ok(prepared.ok);
    const active = first.slots('x509').active;
    assert.ok(active);
    // A crash in the middle of an activation: the new active was saved, the old one was not.
    await journal.save({
      ...prepared.authority,
      status: 'active',
      sequence: prepared.authority.sequence + 1,
    });
    await keyManager.generateKey('ca-x509-orphan', 'ec-p256');
    await keyManager.generateKey('not-the-ca', 'ec-p256');
    const second = await Ca.open({ trustDomain: td }, { keyManager, journal, clock });
    assert.equal(second.slots('x509').active?.id, prepared.authority.id);
    assert.equal(second.x509Authorities().find((r) => r.id === active.id)?.status, 'old');
    const saved = (await journal.load()).filter((r: AuthorityRecord) => r.kind === 'x509');
    assert.deepEqual(saved.map((r) => r.status).sort(), ['active', 'old']);
    const keys = (await keyManager.listKeys()).map((k) => k.id).sort();
    assert.deepEqual(
      keys,
      [prepared.authority.keyId, second.slots('jwt').active?.keyId, 'not-the-ca'].sort(),
    );
  });
});

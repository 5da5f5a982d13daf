import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { parseDuration, parseTrustDomain, systemClock } from '@parley/core';
import { makeTempDir } from '@parley/testing';
import { MemoryKeyManager } from '../key-manager/memory-key-manager.js';
import { Ca } from './ca.js';
import { FileAuthorityJournal } from './file-authority-journal.js';

describe('FileAuthorityJournal', () => {
  it('keeps the CA’s authorities across a restart', async () => {
    await using dir = await makeTempDir();
    const keyManager = new MemoryKeyManager();
    const config = {
      trustDomain: parseTrustDomain('example.org'),
      x509: { keyType: 'ec-p256' as const, ttl: parseDuration('24h') },
    };
    const first = await Ca.open(config, {
      keyManager,
      journal: new FileAuthorityJournal(join(dir.path, 'ca.json')),
      clock: systemClock,
    });
    const before = first.bundle();
    const second = await Ca.open(config, {
      keyManager,
      journal: new FileAuthorityJournal(join(dir.path, 'ca.json')),
      clock: systemClock,
    });
    assert.deepEqual(
      second.bundle().x509Authorities.map((c) => Buffer.from(c.raw).toString('hex')),
      before.x509Authorities.map((c) => Buffer.from(c.raw).toString('hex')),
    );
    assert.deepEqual([...second.bundle().jwtAuthorities.keys()], [...before.jwtAuthorities.keys()]);
  });
});

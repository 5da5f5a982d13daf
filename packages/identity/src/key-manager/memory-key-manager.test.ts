import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { hashOf, isParleyError } from '@parley/core';
import { MemoryKeyManager } from './memory-key-manager.js';

describe('MemoryKeyManager', () => {
  it('generates, gets, lists, replaces and deletes keys by id', async () => {
    const km = new MemoryKeyManager();
    const a = await km.generateKey('a', 'ec-p384');
    await km.generateKey('b', 'rsa-2048');
    assert.equal(a.keyType, 'ec-p384');
    assert.equal(await km.getKey('a'), a);
    const data = Buffer.from('x');
    assert.ok(verify(hashOf(a.keyType), data, a.publicKey, await a.sign(data)));
    assert.deepEqual(
      (await km.listKeys()).map((k) => [k.id, k.keyType]),
      [
        ['a', 'ec-p384'],
        ['b', 'rsa-2048'],
      ],
    );
    const a2 = await km.generateKey('a', 'ec-p256');
    assert.ok(!a2.publicKey.equals(a.publicKey));
    assert.equal(await km.deleteKey('a'), true);
    assert.equal(await km.deleteKey('a'), false);
    assert.equal(await km.getKey('a'), undefined);
  });

  it('rejects unsafe key ids', async () => {
    const km = new MemoryKeyManager();
    await assert.rejects(km.generateKey('../x', 'ec-p256'), (e: unknown) =>
      isParleyError(e, 'invalid-argument'),
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isParleyError } from '@parley/core';
import { newDataKey } from './envelope.js';
import { Keyring } from './keyring.js';

describe('Keyring', () => {
  const k1 = { id: 'k1', key: newDataKey() };
  const k2 = { id: 'k2', key: newDataKey() };

  it('wraps with the first key and unwraps with any configured one', () => {
    const dataKey = newDataKey();
    const old = new Keyring([k1]).wrap(dataKey, 'aad');
    assert.equal(old.kekId, 'k1');
    const rotated = new Keyring([k2, k1]);
    assert.equal(rotated.activeId, 'k2');
    assert.deepEqual(rotated.unwrap(old.kekId, old.wrapped, 'aad'), dataKey);
    const rewrapped = rotated.wrap(rotated.unwrap(old.kekId, old.wrapped, 'aad'), 'aad');
    assert.equal(rewrapped.kekId, 'k2');
    assert.deepEqual(new Keyring([k2]).unwrap('k2', rewrapped.wrapped, 'aad'), dataKey);
  });

  it('names a missing key and refuses a wrong AAD', () => {
    const w = new Keyring([k1]).wrap(newDataKey(), 'aad');
    assert.throws(
      () => new Keyring([k2]).unwrap('k1', w.wrapped, 'aad'),
      (e) => isParleyError(e, 'failed-precondition') && /"k1"/.test(String(e)),
    );
    assert.throws(() => new Keyring([k1]).unwrap('k1', w.wrapped, 'other'), /authenticate/);
  });

  it('checks its keys', () => {
    assert.throws(() => new Keyring([]), RangeError);
    assert.throws(() => new Keyring([{ id: 'a b', key: newDataKey() }]), RangeError);
    assert.throws(() => new Keyring([{ id: 'a', key: Buffer.alloc(31) }]), RangeError);
    assert.throws(() => new Keyring([k1, k1]), RangeError);
  });
});

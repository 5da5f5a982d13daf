import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isParleyError } from '@parley/core';
import { dataKeyAad, newDataKey, openValue, sealValue, valueAad } from './envelope.js';

describe('envelope', () => {
  const key = newDataKey();
  const plain = Buffer.from('{"password":"hunter2"}');

  it('round-trips with a fresh nonce each time', () => {
    const a = sealValue(key, plain, valueAad('secret', 'app/db', 1));
    const b = sealValue(key, plain, valueAad('secret', 'app/db', 1));
    assert.notDeepEqual(a, b);
    assert.ok(!a.includes(plain));
    assert.deepEqual(openValue(key, a, valueAad('secret', 'app/db', 1)), plain);
  });

  it('refuses another version, path, key or a flipped bit', () => {
    const sealed = sealValue(key, plain, valueAad('secret', 'app/db', 1));
    const flipped = Buffer.from(sealed);
    flipped[20] = (flipped[20] as number) ^ 1;
    for (const [k, s, aad] of [
      [key, sealed, valueAad('secret', 'app/db', 2)],
      [key, sealed, valueAad('secret', 'app/other', 1)],
      [key, sealed, dataKeyAad('secret', 'app/db')],
      [newDataKey(), sealed, valueAad('secret', 'app/db', 1)],
      [key, flipped, valueAad('secret', 'app/db', 1)],
      [key, sealed.subarray(0, 20), valueAad('secret', 'app/db', 1)],
    ] as const) {
      assert.throws(
        () => openValue(k, s, aad),
        (e) => isParleyError(e, 'internal') && !String(e).includes('hunter2'),
      );
    }
  });

  it('binds path and version unambiguously', () => {
    assert.notEqual(valueAad('secret', 'a', 12), valueAad('secret', 'a\n1', 2));
    assert.throws(() => sealValue(Buffer.alloc(16), plain, ''), RangeError);
  });
});

import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Signer, generateKey, keyObjectSigner } from '@parley/core';
import { openStore } from '@parley/store';
import { makeTempDir } from '@parley/testing';
import {
  type PrivateKeyStore,
  TokenSigningKeys,
  jwkThumbprint,
  planSigningKeys,
} from './signing-keys.js';

const T0 = Date.UTC(2026, 10, 24);
const S = 1000;
const schedule = {
  alg: 'ES256',
  activeMs: 60 * S,
  overlapMs: 10 * S,
  maxTokenTtlMs: 30 * S,
} as const;

/** Private keys in memory, as the server's memory key manager holds them. */
function memoryKeys(): PrivateKeyStore & { readonly ids: () => string[] } {
  const keys = new Map<string, Signer>();
  return {
    generateKey: async (id, type) => {
      const signer = keyObjectSigner(generateKey(type));
      keys.set(id, signer);
      return signer;
    },
    getKey: async (id) => keys.get(id),
    deleteKey: async (id) => keys.delete(id),
    ids: () => [...keys.keys()],
  };
}

describe('planSigningKeys', () => {
  it('makes a key when none signs, and the next one overlap before the last ends', () => {
    assert.deepEqual(planSigningKeys([], T0, schedule), [
      { activeFrom: T0, activeUntil: T0 + 60 * S },
    ]);
    const one = [{ activeFrom: T0, activeUntil: T0 + 60 * S }];
    assert.deepEqual(planSigningKeys(one, T0 + 49 * S, schedule), []);
    assert.deepEqual(planSigningKeys(one, T0 + 50 * S, schedule), [
      { activeFrom: T0 + 60 * S, activeUntil: T0 + 120 * S },
    ]);
    // Long after every key ended (a server down for hours): a key now, and not one in the past.
    assert.deepEqual(planSigningKeys(one, T0 + 1000 * S, schedule), [
      { activeFrom: T0 + 1000 * S, activeUntil: T0 + 1060 * S },
    ]);
  });
});

describe('TokenSigningKeys', () => {
  it('publishes the next key before it signs and a retired one until its tokens expire', async () => {
    await using dir = await makeTempDir();
    const db = await openStore({ sqlite: { path: join(dir.path, 'store.db') } });
    let now = T0;
    const keys = memoryKeys();
    const set = new TokenSigningKeys({
      db,
      keys,
      serverId: 'spiffe://example.org/parley/server',
      schedule,
      clock: { now: () => now },
    });
    await set.advance();
    const a = set.current();
    const kids = () => set.published().map((k) => k.kid);
    assert.deepEqual(kids(), [a.kid]);
    now = T0 + 50 * S;
    await set.advance();
    assert.equal(set.current().kid, a.kid);
    assert.equal(kids().length, 2, 'the next key is published 10 s ahead');
    const b = kids()[1] as string;
    now = T0 + 60 * S;
    assert.equal(set.current().kid, b, 'the next key signs on time even before advance runs');
    now = T0 + 89 * S;
    await set.advance();
    assert.ok(kids().includes(a.kid), 'tokens of a may live until 90 s');
    now = T0 + 90 * S;
    await set.advance();
    assert.ok(!kids().includes(a.kid));
    assert.deepEqual(keys.ids().length, 1, 'the private key of a is deleted with it');
    assert.equal((JSON.parse(set.jwksJson()) as { keys: unknown[] }).keys.length, kids().length);
    await db.close();
  });

  it('publishes the keys of every replica, and a restarted replica keeps its own', async () => {
    await using dir = await makeTempDir();
    const db = await openStore({ sqlite: { path: join(dir.path, 'store.db') } });
    const clock = { now: () => T0 };
    const keysA = memoryKeys();
    const a = new TokenSigningKeys({ db, keys: keysA, serverId: 'a', schedule, clock });
    const b = new TokenSigningKeys({ db, keys: memoryKeys(), serverId: 'b', schedule, clock });
    await a.advance();
    await b.advance();
    await a.advance();
    assert.equal(a.published().length, 2);
    assert.notEqual(a.current().kid, b.current().kid);
    const again = new TokenSigningKeys({ db, keys: keysA, serverId: 'a', schedule, clock });
    await again.advance();
    assert.equal(again.current().kid, a.current().kid, 'the same key after a restart');
    // A replica whose private keys were lost (memory key manager) retires its key and makes one.
    const lost = new TokenSigningKeys({ db, keys: memoryKeys(), serverId: 'a', schedule, clock });
    await lost.advance();
    assert.notEqual(lost.current().kid, a.current().kid);
    assert.ok(
      lost.published().some((k) => k.kid === a.current().kid),
      'still published',
    );
    await db.close();
  });

  it('rotates on demand to the key already published, and signs verifiable JWS signatures', async () => {
    await using dir = await makeTempDir();
    const db = await openStore({ sqlite: { path: join(dir.path, 'store.db') } });
    let now = T0;
    for (const alg of ['ES256', 'RS256'] as const) {
      const set = new TokenSigningKeys({
        db,
        keys: memoryKeys(),
        serverId: alg,
        schedule: { ...schedule, alg },
        clock: { now: () => now },
      });
      now = T0;
      await set.advance();
      now = T0 + 55 * S;
      await set.advance();
      const before = set.current();
      const next = set.published().find((k) => k.kid !== before.kid && k.alg === alg);
      assert.ok(next !== undefined);
      // Published at 50 s (overlap 10 s before 60 s): with a 2 s lead it may sign at once.
      assert.equal(await set.rotate(2 * S), now);
      assert.equal(set.current().kid, next.kid, 'the pre-published key takes over');
      assert.ok(set.published().some((k) => k.kid === before.kid));
      const jwk = set.published().find((k) => k.kid === next.kid);
      assert.equal(jwk?.use, 'sig');
      assert.equal(jwk?.alg, alg);
      assert.ok(!('d' in (jwk ?? {})), 'no private member');
      assert.equal(jwk?.kid, jwkThumbprint(jwk ?? {}));
      const input = Buffer.from('header.claims');
      const sig = await set.current().sign(input);
      const key = createPublicKey({ key: { ...jwk }, format: 'jwk' });
      assert.ok(
        alg === 'ES256'
          ? sig.length === 64 && verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, sig)
          : verify('sha256', input, key, sig),
      );
    }
    await db.close();
  });

  it('publishes a new key ahead when none is out yet, and switches once it has been', async () => {
    await using dir = await makeTempDir();
    const db = await openStore({ sqlite: { path: join(dir.path, 'store.db') } });
    let now = T0;
    const set = new TokenSigningKeys({
      db,
      keys: memoryKeys(),
      serverId: 'a',
      schedule,
      clock: { now: () => now },
    });
    await set.advance();
    const first = set.current().kid;
    now = T0 + 5 * S;
    assert.equal(await set.rotate(3 * S), T0 + 8 * S);
    assert.equal(set.published().length, 2, 'the new key is published now');
    assert.equal(set.current().kid, first, 'the old key signs until the new one has been out 3 s');
    now = T0 + 8 * S;
    assert.notEqual(set.current().kid, first);
    await db.close();
  });

  it('refuses an overlap as long as the active period', () => {
    assert.throws(
      () =>
        new TokenSigningKeys({
          db: undefined as never,
          keys: memoryKeys(),
          serverId: 'a',
          schedule: { ...schedule, overlapMs: schedule.activeMs },
          clock: { now: () => T0 },
        }),
      RangeError,
    );
  });
});

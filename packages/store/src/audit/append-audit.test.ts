import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '@parley/testing';
import type { Transaction } from '../database.js';
import { openStore } from '../open-store.js';
import { appendAudit } from './append-audit.js';

const ok = { at: 1, module: 'm', action: 'a', subject: 's', detail: {} };

void test('rejects events that would not verify once stored, and calls outside a transaction', async () => {
  await using dir = await makeTempDir('parley-audit-');
  await using db = await openStore({ sqlite: { path: join(dir.path, 'store.db') } });
  await assert.rejects(appendAudit(db as unknown as Transaction, ok), /inside a transaction/);
  await db.transaction(async (tx) => {
    await assert.rejects(appendAudit(tx, { ...ok, at: -1 }), RangeError);
    await assert.rejects(appendAudit(tx, { ...ok, at: 1.5 }), RangeError);
    await assert.rejects(appendAudit(tx, { ...ok, module: '' }), TypeError);
    await assert.rejects(appendAudit(tx, { ...ok, subject: 'a\0b' }), TypeError);
    await assert.rejects(appendAudit(tx, { ...ok, action: 'x\uD800' }), TypeError);
    const stored = await appendAudit(tx, {
      ...ok,
      subject: 'ünïcødé 🎉',
      detail: { k: 'a\0\uD800' },
    });
    assert.equal(stored.seq, 1);
  });
});

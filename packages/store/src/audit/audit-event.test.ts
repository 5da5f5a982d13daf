import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { GENESIS_HASH, hashAuditEvent } from './audit-event.js';

void test('hashes the JSON array of the fields, in order', () => {
  const event = {
    seq: 1,
    at: 1_700_000_000_000,
    module: 'identity',
    action: 'svid.mint',
    subject: 'spiffe://example.org/web',
    detail: '{"serial":"0a"}',
    prevHash: GENESIS_HASH,
  };
  // The canonical encoding, written out by hand (DESIGN §6, audit/audit-event.ts).
  const canonical =
    '[1,1700000000000,"identity","svid.mint","spiffe://example.org/web","{\\"serial\\":\\"0a\\"}",' +
    `"${'0'.repeat(64)}"]`;
  assert.equal(hashAuditEvent(event), createHash('sha256').update(canonical).digest('hex'));
  // Field boundaries are unambiguous: moving a character between fields changes the hash.
  assert.notEqual(
    hashAuditEvent({ ...event, module: 'identitysvid', action: '.mint' }),
    hashAuditEvent(event),
  );
});

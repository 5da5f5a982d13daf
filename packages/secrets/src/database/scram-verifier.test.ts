import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { test } from 'node:test';
import { scramSha256Verifier } from './scram-verifier.js';

void test('the verifier has the form PostgreSQL stores, and depends on the salt', () => {
  const salt = Buffer.alloc(16, 7);
  const verifier = scramSha256Verifier('pencil', salt);
  const match = /^SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  assert.ok(match);
  assert.deepEqual(Buffer.from(match[1]!, 'base64'), salt);
  // RFC 5802 §3, computed independently.
  const salted = pbkdf2Sync('pencil', salt, 4096, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  assert.equal(match[2], createHash('sha256').update(clientKey).digest('base64'));
  assert.equal(match[3], createHmac('sha256', salted).update('Server Key').digest('base64'));
  assert.equal(scramSha256Verifier('pencil', salt), verifier);
  assert.notEqual(scramSha256Verifier('pencil'), scramSha256Verifier('pencil'));
});

void test('only printable ASCII passwords (where SASLprep is the identity) are accepted', () => {
  assert.throws(() => scramSha256Verifier(''), RangeError);
  assert.throws(() => scramSha256Verifier('pässword'), RangeError);
  assert.throws(() => scramSha256Verifier('with space'), RangeError);
});

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isParleyError } from '../errors.js';
import { decodePem, decodePemBlocks, encodePem } from './pem.js';

const invalid = (pattern?: RegExp) => (err: unknown) =>
  isParleyError(err, 'invalid-argument') && (pattern === undefined || pattern.test(err.message));

describe('encodePem (RFC 7468 §2)', () => {
  it('writes 64-character base64 lines between matching boundaries', () => {
    const der = randomBytes(200);
    const pem = encodePem('CERTIFICATE', der);
    const lines = pem.split('\n');
    assert.equal(lines[0], '-----BEGIN CERTIFICATE-----');
    assert.equal(lines.at(-2), '-----END CERTIFICATE-----');
    assert.equal(lines.at(-1), '');
    const body = lines.slice(1, -2);
    // 200 bytes are 268 base64 characters.
    assert.deepEqual(
      body.map((l) => l.length),
      [64, 64, 64, 64, 12],
    );
    assert.equal(body.join(''), der.toString('base64'));
  });

  it('writes an exact multiple of 64 without an empty line, and empty content as no body', () => {
    const pem = encodePem('X', randomBytes(96)); // 128 characters
    assert.equal(pem.split('\n').length, 5);
    assert.equal(encodePem('X', new Uint8Array(0)), '-----BEGIN X-----\n-----END X-----\n');
  });

  it('encodes a subarray, not its whole buffer', () => {
    const buf = Buffer.from('xxhelloxx');
    const pem = encodePem('DATA', buf.subarray(2, 7));
    assert.equal(Buffer.from(decodePem(pem)[0]?.der ?? []).toString(), 'hello');
  });
});

describe('decodePem (RFC 7468 §3)', () => {
  it('round-trips blocks of any size and label', () => {
    for (const n of [0, 1, 2, 3, 47, 48, 49, 1000]) {
      const der = randomBytes(n);
      const [block, ...rest] = decodePem(encodePem('PRIVATE KEY', der));
      assert.equal(rest.length, 0);
      assert.equal(block?.label, 'PRIVATE KEY');
      assert.ok(Buffer.from(block?.der ?? []).equals(der), `n=${n}`);
    }
  });

  it('reads every block in order, ignoring text between them', () => {
    const a = randomBytes(40);
    const b = randomBytes(41);
    const c = randomBytes(42);
    const text =
      'subject=CN=a\n' +
      encodePem('CERTIFICATE', a) +
      '\nsome comment\n' +
      encodePem('EC PRIVATE KEY', b) +
      encodePem('CERTIFICATE', c) +
      'trailer';
    assert.deepEqual(
      decodePem(text).map((bl) => bl.label),
      ['CERTIFICATE', 'EC PRIVATE KEY', 'CERTIFICATE'],
    );
    const certs = decodePemBlocks(text, 'CERTIFICATE');
    assert.equal(certs.length, 2);
    assert.ok(Buffer.from(certs[0] ?? []).equals(a));
    assert.ok(Buffer.from(certs[1] ?? []).equals(c));
    assert.deepEqual(decodePemBlocks(text, 'PUBLIC KEY'), []);
    assert.deepEqual(decodePem('no PEM here'), []);
  });

  it('tolerates CRLF line endings and other line lengths', () => {
    const der = randomBytes(100);
    const b64 = der.toString('base64');
    const crlf = `-----BEGIN A-----\r\n${b64.slice(0, 10)}\r\n${b64.slice(10)}\r\n-----END A-----\r\n`;
    assert.ok(Buffer.from(decodePem(crlf)[0]?.der ?? []).equals(der));
    const oneLine = `-----BEGIN A-----\n${b64}\n-----END A-----`;
    assert.ok(Buffer.from(decodePem(oneLine)[0]?.der ?? []).equals(der));
  });

  it('rejects mismatched labels', () => {
    assert.throws(
      () => decodePem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n'),
      invalid(/"CERTIFICATE" ends with "PRIVATE KEY"/),
    );
  });

  it('rejects bodies that are not strict base64', () => {
    for (const body of ['AAA', 'A===', 'AA=A', 'AAAA=', '=AAA', 'AA==AAAA', 'A']) {
      assert.throws(
        () => decodePem(`-----BEGIN X-----\n${body}\n-----END X-----\n`),
        invalid(/not valid base64/),
        body,
      );
    }
  });

  it('rejects a block whose body holds characters outside the base64 alphabet', () => {
    for (const body of ['MII!B', 'AA_A', 'AA-A', 'Proc-Type: 4,ENCRYPTED\n\nAAAA']) {
      assert.throws(
        () => decodePem(`-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`),
        invalid(),
        body,
      );
    }
  });

  it('limits the input size', () => {
    assert.throws(() => decodePem('x'.repeat(101), 100), invalid(/exceeds 100/));
    assert.deepEqual(decodePem('x'.repeat(100), 100), []);
    assert.throws(() => decodePem(' '.repeat((4 << 20) + 1)), invalid(/exceeds/));
  });
});

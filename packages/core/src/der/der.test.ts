import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isParleyError } from '../errors.js';
import {
  type DerNode,
  DerReader,
  derChildren,
  derReadBitString,
  derReadBoolean,
  derReadOid,
  derReadSmallInteger,
  derReadTime,
  derReadUnsigned,
} from './decode.js';
import {
  DER_NULL,
  Tag,
  derBitString,
  derBoolean,
  derContext,
  derLength,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derSmallInteger,
  derString,
  derTime,
  derUnsignedInteger,
  tlv,
} from './encode.js';
import { Oid } from './oids.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Buffer.from(h.replace(/\s/g, ''), 'hex');
const one = (der: Uint8Array): DerNode => {
  const r = new DerReader(der, 'test');
  const node = r.next();
  r.end();
  return node;
};
const malformed = (pattern?: RegExp) => (err: unknown) =>
  isParleyError(err, 'invalid-argument') &&
  /^malformed /.test(err.message) &&
  (pattern === undefined || pattern.test(err.message));

describe('DER lengths (X.690 §8.1.3, §10.1)', () => {
  it('encodes the minimal definite form', () => {
    assert.equal(hex(derLength(0)), '00');
    assert.equal(hex(derLength(127)), '7f');
    assert.equal(hex(derLength(128)), '8180');
    assert.equal(hex(derLength(255)), '81ff');
    assert.equal(hex(derLength(256)), '820100');
    assert.equal(hex(derLength(65535)), '82ffff');
    assert.equal(hex(derLength(65536)), '83010000');
    assert.equal(hex(derLength(0xffffff)), '83ffffff');
    assert.throws(() => derLength(0x1000000), RangeError);
  });

  it('round-trips TLVs of every length form', () => {
    for (const n of [0, 1, 127, 128, 255, 256, 65535, 65536, 70_000]) {
      const content = randomBytes(n);
      const der = tlv(Tag.octetString, content.subarray(0, n >> 1), content.subarray(n >> 1));
      const node = one(der);
      assert.equal(node.tag, Tag.octetString);
      assert.ok(Buffer.from(node.content).equals(content));
      assert.ok(Buffer.from(node.raw).equals(der));
    }
  });

  it('rejects non-minimal, indefinite and oversized lengths', () => {
    assert.throws(() => one(bytes('04 81 05 0102030405')), malformed(/non-minimal length/));
    assert.throws(() => one(bytes('04 81 00')), malformed(/non-minimal length/));
    assert.throws(
      () => one(Buffer.concat([bytes('04 82 0080'), Buffer.alloc(128)])),
      malformed(/non-minimal length/),
    );
    assert.throws(() => one(bytes('30 80 0000')), malformed(/indefinite length/));
    assert.throws(() => one(bytes('04 85 0000000001 00')), malformed(/length too large/));
  });

  it('rejects truncated input', () => {
    for (const h of ['', '30', '04 05 01020304', '04 82 01', '04 81', '30 03 0201']) {
      assert.throws(() => one(bytes(h)), malformed(/truncated/), h);
    }
    const der = derSequence(derSmallInteger(1), derOctetString(randomBytes(300)));
    for (let cut = 0; cut < der.length; cut += 7) {
      assert.throws(() => {
        const seq = derChildren(one(der.subarray(0, cut)), 'test');
        while (!seq.done) seq.next();
      }, malformed());
    }
  });

  it('rejects multi-byte tags and trailing data', () => {
    assert.throws(() => one(bytes('1f 81 00 00')), malformed(/multi-byte tags/));
    assert.throws(() => one(bytes('05 00 00')), malformed(/trailing data/));
  });
});

describe('DerReader', () => {
  it('walks, peeks, expects and skips optional fields', () => {
    const der = derSequence(derSmallInteger(5), derContext(0, true, derBoolean(true)), DER_NULL);
    const seq = derChildren(one(der), 'seq');
    assert.equal(seq.peekTag(), Tag.integer);
    assert.equal(derReadSmallInteger(seq.expect(Tag.integer, 'n'), 'n'), 5);
    assert.equal(seq.optional(0xa1), undefined);
    const ctx = seq.optional(0xa0);
    assert.ok(ctx !== undefined);
    assert.equal(derReadBoolean(derChildren(ctx, 'ctx').next(), 'b'), true);
    assert.throws(
      () => seq.expect(Tag.integer, 'field'),
      malformed(/field: expected tag 0x2, got 0x5/),
    );
    assert.ok(seq.done);
    assert.equal(seq.peekTag(), undefined);
    seq.end();
  });

  it('refuses to descend into a primitive value', () => {
    assert.throws(
      () => derChildren(one(derOctetString(Buffer.alloc(2))), 'x'),
      malformed(/constructed/),
    );
    assert.equal(hex(derSet(derBoolean(false))), '3103010100');
  });
});

describe('INTEGER', () => {
  it('encodes minimal two’s complement with a 0x00 pad when the top bit is set', () => {
    const cases: [string, string][] = [
      ['', '020100'],
      ['00', '020100'],
      ['0000', '020100'],
      ['01', '020101'],
      ['7f', '02017f'],
      ['80', '02020080'],
      ['ff', '020200ff'],
      ['000080', '02020080'],
      ['00007f', '02017f'],
      ['0100', '02020100'],
      ['8000000000000000', '0209008000000000000000'],
    ];
    for (const [magnitude, der] of cases)
      assert.equal(hex(derUnsignedInteger(bytes(magnitude))), der, magnitude);
  });

  it('round-trips unsigned magnitudes', () => {
    for (let i = 0; i < 200; i++) {
      const m = randomBytes(1 + (i % 33));
      if (i % 3 === 0) m[0] = 0x80 | (m[0] ?? 0);
      let start = 0;
      while (start < m.length - 1 && m[start] === 0) start++;
      const read = derReadUnsigned(one(derUnsignedInteger(m)), 'n');
      assert.equal(hex(read), hex(m.subarray(start)));
    }
  });

  it('round-trips small integers', () => {
    for (const n of [0, 1, 127, 128, 255, 256, 32767, 32768, 65535, 0x7fffffff]) {
      assert.equal(derReadSmallInteger(one(derSmallInteger(n)), 'n'), n);
    }
    assert.equal(hex(derSmallInteger(128)), '02020080');
    for (const bad of [-1, 1.5, 0x80000000, NaN])
      assert.throws(() => derSmallInteger(bad), RangeError);
    assert.throws(
      () => derReadSmallInteger(one(bytes('0205 0100000000')), 'n'),
      malformed(/too large/),
    );
  });

  it('rejects non-minimal, negative, empty and mistagged integers', () => {
    assert.throws(
      () => derReadUnsigned(one(bytes('0202 0001')), 'n'),
      malformed(/non-minimal INTEGER/),
    );
    assert.throws(
      () => derReadUnsigned(one(bytes('0202 ff80')), 'n', true),
      malformed(/non-minimal INTEGER/),
    );
    assert.throws(() => derReadUnsigned(one(bytes('0201 80')), 'n'), malformed(/negative INTEGER/));
    assert.equal(hex(derReadUnsigned(one(bytes('0201 80')), 'n', true)), '80');
    assert.equal(hex(derReadUnsigned(one(bytes('0202 ff7f')), 'n', true)), 'ff7f');
    assert.throws(() => derReadUnsigned(one(bytes('0200')), 'n'), malformed(/expected an INTEGER/));
    assert.throws(
      () => derReadUnsigned(one(bytes('0401 01')), 'n'),
      malformed(/expected an INTEGER/),
    );
  });
});

describe('OBJECT IDENTIFIER', () => {
  it('encodes known OIDs to their standard bytes', () => {
    assert.equal(hex(derOid(Oid.subjectAltName)), '0603551d11');
    assert.equal(hex(derOid(Oid.sha256WithRsa)), '06092a864886f70d01010b');
    assert.equal(hex(derOid(Oid.ecdsaWithSha256)), '06082a8648ce3d040302');
    assert.equal(hex(derOid('1.3.132.0.34')), '06052b81040022');
    assert.equal(hex(derOid('2.999.3')), '0603883703');
  });

  it('round-trips OIDs, including large arcs and the 2.x first arc', () => {
    for (const oid of [
      ...Object.values(Oid),
      '0.0',
      '0.39',
      '1.0',
      '1.39.5',
      '2.0',
      '2.40',
      '2.999.1',
      '2.100000.7',
      '1.2.127.128.16383.16384',
      '2.5.29.4294967296',
      '1.2.9007199254740',
    ]) {
      assert.equal(derReadOid(one(derOid(oid)), 'oid'), oid);
      // The memoized decode must give the same answer the second time.
      assert.equal(derReadOid(one(derOid(oid)), 'oid'), oid);
    }
  });

  it('refuses to encode malformed dotted text', () => {
    for (const bad of [
      '',
      '1',
      '3.1',
      '1.40',
      '0.40',
      'a.b',
      '1..2',
      '1.2.',
      '-1.2',
      '1.2.x',
      ' 1.2',
    ]) {
      assert.throws(() => derOid(bad), RangeError, bad);
    }
  });

  it('rejects non-minimal, truncated, empty and oversized OIDs', () => {
    assert.throws(
      () => derReadOid(one(bytes('0602 8001')), 'oid'),
      malformed(/non-minimal OID arc/),
    );
    assert.throws(
      () => derReadOid(one(bytes('0603 2a8001')), 'oid'),
      malformed(/non-minimal OID arc/),
    );
    assert.throws(() => derReadOid(one(bytes('0602 2a86')), 'oid'), malformed(/truncated OID/));
    assert.throws(() => derReadOid(one(bytes('0600')), 'oid'), malformed(/expected an OID/));
    assert.throws(
      () => derReadOid(one(tlv(Tag.oid, Buffer.alloc(65, 1))), 'oid'),
      malformed(/expected an OID/),
    );
    assert.throws(() => derReadOid(one(bytes('0401 2a')), 'oid'), malformed(/expected an OID/));
    assert.throws(
      () =>
        derReadOid(one(tlv(Tag.oid, Buffer.from([0x2a, ...Buffer.alloc(9, 0xff), 0x7f]))), 'oid'),
      malformed(/too large/),
    );
  });
});

describe('BOOLEAN, BIT STRING, OCTET STRING, NULL, strings', () => {
  it('encodes and reads DER booleans only', () => {
    assert.equal(hex(derBoolean(true)), '0101ff');
    assert.equal(hex(derBoolean(false)), '010100');
    assert.equal(derReadBoolean(one(derBoolean(true)), 'b'), true);
    assert.equal(derReadBoolean(one(derBoolean(false)), 'b'), false);
    for (const h of ['0101 01', '0101 fe', '0102 ffff', '0100', '0201 ff']) {
      assert.throws(() => derReadBoolean(one(bytes(h)), 'b'), malformed(/BOOLEAN/), h);
    }
  });

  it('round-trips bit strings and rejects bad unused-bit counts', () => {
    const bs = derBitString(bytes('a0'), 5);
    assert.equal(hex(bs), '030205a0');
    const read = derReadBitString(one(bs), 'bits');
    assert.equal(read.unusedBits, 5);
    assert.equal(hex(read.bytes), 'a0');
    assert.equal(derReadBitString(one(derBitString(new Uint8Array(0))), 'bits').bytes.length, 0);
    for (const h of ['0300', '0302 08ff', '0301 01', '0401 00']) {
      assert.throws(() => derReadBitString(one(bytes(h)), 'bits'), malformed(/BIT STRING/), h);
    }
  });

  it('encodes the rest as expected', () => {
    assert.equal(hex(DER_NULL), '0500');
    assert.equal(hex(derOctetString(bytes('0102'))), '04020102');
    assert.equal(hex(derString(Tag.utf8String, 'é')), '0c02c3a9');
    assert.equal(hex(derString(Tag.printableString, 'A')), '130141');
    assert.equal(hex(derContext(2, false, Buffer.from('a'))), '820161');
    assert.equal(hex(derContext(3, true, DER_NULL)), 'a3020500');
  });
});

describe('Time (RFC 5280 §4.1.2.5)', () => {
  const at = (iso: string) => Date.parse(iso);
  const text = (der: Uint8Array) => Buffer.from(one(der).content).toString('latin1');

  it('uses UTCTime through 2049 and GeneralizedTime from 2050', () => {
    const cases: [string, number, string][] = [
      ['1950-01-01T00:00:00Z', Tag.utcTime, '500101000000Z'],
      ['1999-12-31T23:59:59Z', Tag.utcTime, '991231235959Z'],
      ['2000-01-01T00:00:00Z', Tag.utcTime, '000101000000Z'],
      ['2024-02-29T12:34:56Z', Tag.utcTime, '240229123456Z'],
      ['2049-12-31T23:59:59Z', Tag.utcTime, '491231235959Z'],
      ['2050-01-01T00:00:00Z', Tag.generalizedTime, '20500101000000Z'],
      ['9999-12-31T23:59:59Z', Tag.generalizedTime, '99991231235959Z'],
    ];
    for (const [iso, tag, encoded] of cases) {
      const der = derTime(at(iso));
      assert.equal(der[0], tag, iso);
      assert.equal(text(der), encoded);
      assert.equal(derReadTime(one(der), 't'), at(iso), iso);
    }
  });

  it('drops fractional seconds', () => {
    const ms = at('2030-06-15T08:09:10Z');
    assert.equal(derReadTime(one(derTime(ms + 999)), 't'), ms);
    assert.equal(
      derReadTime(one(derTime(at('1969-12-31T23:59:59Z') + 500)), 't'),
      at('1969-12-31T23:59:59Z'),
    );
  });

  it('refuses times X.509 cannot express', () => {
    assert.throws(() => derTime(at('1949-12-31T23:59:59Z')), RangeError);
    assert.throws(() => derTime(at('+010000-01-01T00:00:00Z')), RangeError);
  });

  it('rejects malformed times', () => {
    const utc = (s: string) => tlv(Tag.utcTime, Buffer.from(s, 'latin1'));
    const gen = (s: string) => tlv(Tag.generalizedTime, Buffer.from(s, 'latin1'));
    for (const der of [
      utc('2401011200Z'), // no seconds
      utc('240101120000'), // no Z
      utc('240101120000+0000'),
      utc('2401011200001Z'),
      utc('240229120000X'),
      utc('230229120000Z'), // not a leap year
      utc('241301120000Z'),
      utc('240001120000Z'),
      utc('240100120000Z'),
      utc('240431120000Z'),
      utc('240101240000Z'),
      utc('240101126000Z'),
      utc('240101120060Z'),
      utc('2401011a0000Z'),
      utc('24 101120000Z'),
      gen('20500101000000.5Z'),
      gen('205001010000Z'),
      gen('20500101000000'),
      tlv(Tag.octetString, Buffer.from('240101120000Z')),
    ]) {
      assert.throws(
        () => derReadTime(one(der), 't'),
        malformed(),
        Buffer.from(der).toString('latin1'),
      );
    }
    assert.equal(derReadTime(one(utc('240229120000Z')), 't'), at('2024-02-29T12:00:00Z'));
    assert.equal(derReadTime(one(gen('21000228235959Z')), 't'), at('2100-02-28T23:59:59Z'));
    assert.throws(() => derReadTime(one(gen('21000229000000Z')), 't'), malformed(/invalid date/));
  });

  it('reads a GeneralizedTime year below 100 as that year, not 19xx', () => {
    const der = tlv(Tag.generalizedTime, Buffer.from('00500101000000Z', 'latin1'));
    let year: number | undefined;
    try {
      year = new Date(derReadTime(one(der), 't')).getUTCFullYear();
    } catch {
      year = undefined; // rejecting it (RFC 5280 wants UTCTime before 2050) is also fine
    }
    assert.notEqual(year, 1950);
  });
});

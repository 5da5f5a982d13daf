import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isParleyError } from '../errors.js';
import { type JsonValue, JsonNumber, isJsonArray, isJsonObject, parseJson } from './parse-json.js';

/** Converts a parsed value to plain JS (numbers as their text) for deep comparison. */
function plain(v: JsonValue): unknown {
  if (v instanceof JsonNumber) return { n: v.text };
  if (isJsonArray(v)) return v.map(plain);
  if (isJsonObject(v)) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
  return v;
}

function rejects(text: string, pattern?: RegExp): void {
  assert.throws(
    () => parseJson(text),
    (err: unknown) =>
      isParleyError(err, 'invalid-argument') &&
      (pattern === undefined || pattern.test(err.message)),
    JSON.stringify(text.slice(0, 80)),
  );
}

describe('parseJson', () => {
  it('parses every JSON type', () => {
    const v = parseJson(' {"a":[1,-2.5e+3,true,false,null,"s"],"b":{},"c":[]} \n');
    assert.deepEqual(plain(v), {
      a: [{ n: '1' }, { n: '-2.5e+3' }, true, false, null, 's'],
      b: {},
      c: [],
    });
    assert.equal(parseJson('"x"'), 'x');
    assert.equal(parseJson('null'), null);
    assert.equal(parseJson('\t\r\ntrue\t\r\n'), true);
  });

  it('keeps objects in insertion order as Maps without prototype surprises', () => {
    const v = parseJson('{"z":1,"__proto__":2,"constructor":3,"a":4}');
    assert.ok(isJsonObject(v));
    assert.deepEqual([...v.keys()], ['z', '__proto__', 'constructor', 'a']);
    assert.ok(!isJsonObject(parseJson('[]')));
    assert.ok(!isJsonArray(parseJson('{}')));
  });

  it('rejects duplicate keys at any depth', () => {
    rejects('{"a":1,"a":2}', /offset 7: duplicate key "a"/);
    rejects('{"x":{"a":1,"b":{"c":[{"d":1,"d":1}]}}}', /duplicate key "d"/);
    rejects('[{}, {"k":null,"k":null}]', /duplicate key/);
    // Keys are compared after unescaping.
    rejects('{"a":1,"\\u0061":2}', /duplicate key "a"/);
    assert.ok(isJsonObject(parseJson('{"a":{"a":{"a":1}}}')));
    assert.ok(isJsonObject(parseJson('{"a":1,"A":2,"a ":3}')));
  });

  it('bounds a duplicate key in the message', () => {
    const key = 'k'.repeat(100_000);
    assert.throws(
      () => parseJson(`{"${key}":1,"${key}":2}`),
      (err: unknown) => isParleyError(err) && err.message.length < 200,
    );
  });

  it('keeps big integers as their exact text', () => {
    const max = '18446744073709551615';
    const v = parseJson(`{"seq":${max},"neg":-9007199254740993,"f":1.10,"e":1E400}`);
    assert.ok(isJsonObject(v));
    const seq = v.get('seq');
    assert.ok(seq instanceof JsonNumber);
    assert.equal(seq.text, max);
    assert.equal(seq.isInteger, true);
    assert.equal(seq.toBigInt(), 2n ** 64n - 1n);
    const neg = v.get('neg');
    assert.ok(neg instanceof JsonNumber);
    assert.equal(neg.toBigInt(), -9007199254740993n);
    const f = v.get('f');
    assert.ok(f instanceof JsonNumber);
    assert.equal(f.text, '1.10');
    assert.equal(f.isInteger, false);
    assert.equal(f.toBigInt(), undefined);
    assert.equal(f.toNumber(), 1.1);
    const e = v.get('e');
    assert.ok(e instanceof JsonNumber);
    assert.equal(e.isInteger, false);
    assert.equal(e.toNumber(), Infinity);
  });

  it('accepts the RFC 8259 number grammar', () => {
    for (const n of [
      '0',
      '-0',
      '1',
      '-1',
      '10',
      '0.5',
      '-0.0',
      '1e5',
      '1E+5',
      '1e-05',
      '123.456e789',
    ]) {
      const v = parseJson(n);
      assert.ok(v instanceof JsonNumber, n);
      assert.equal(v.text, n);
    }
  });

  it('rejects numbers outside the grammar', () => {
    for (const n of [
      '-',
      '--1',
      '+1',
      '01',
      '-01',
      '00',
      '1.',
      '.5',
      '1e',
      '1e+',
      '0x10',
      'NaN',
      'Infinity',
      '-Infinity',
      '1_000',
      '[01]',
      '{"a":01}',
    ]) {
      rejects(n);
    }
  });

  it('decodes escapes and rejects invalid ones', () => {
    assert.equal(
      parseJson('"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u00E9\\ud83d\\ude00"'),
      '"\\/\b\f\n\r\té\u00e9\u{1f600}',
    );
    for (const s of [
      '"\\x"',
      '"\\a"',
      '"\\u12"',
      '"\\u12g4"',
      '"\\U0041"',
      '"\\',
      '"\\"',
      '"\\\'"',
      '"\\0"',
    ]) {
      rejects(s);
    }
  });

  it('rejects control characters in strings but allows DEL and non-ASCII', () => {
    for (let c = 0; c < 0x20; c++) rejects(`"a${String.fromCharCode(c)}b"`, /control character/);
    assert.equal(parseJson('"\u007f é 漢"'), '\u007f é 漢');
  });

  it('rejects trailing garbage and other syntax errors', () => {
    for (const text of [
      '',
      ' ',
      '{} x',
      '{}{}',
      '[] []',
      '1 2',
      'truex',
      'tru',
      'nul',
      'True',
      '"unterminated',
      '{',
      '[',
      '[1,]',
      '[,1]',
      '{"a":1,}',
      '{,}',
      '{"a"}',
      '{"a" 1}',
      '{a:1}',
      "{'a':1}",
      '[1 2]',
      '\u00a0{}',
      '\ufeff{}',
      '{}\u0000',
      '// c\n{}',
    ]) {
      rejects(text);
    }
    rejects('{} x', /offset 3: trailing characters/);
  });

  it('limits nesting depth', () => {
    const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
    assert.ok(isJsonArray(parseJson(nest(32))));
    rejects(nest(33), /nesting deeper than 32/);
    assert.ok(isJsonArray(parseJson(nest(3), { maxDepth: 3 })));
    assert.throws(() => parseJson(nest(4), { maxDepth: 3 }), /nesting deeper than 3/);
    const objects = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    assert.ok(isJsonObject(parseJson(objects(32))));
    rejects(objects(33), /nesting deeper/);
    // Deep nesting far past the limit fails cleanly instead of overflowing the stack.
    rejects(nest(500_000), /nesting deeper/);
  });

  it('limits the input length', () => {
    const doc = `"${'a'.repeat(98)}"`;
    assert.equal(parseJson(doc, { maxLength: 100 }), 'a'.repeat(98));
    assert.throws(
      () => parseJson(doc + ' ', { maxLength: 100 }),
      (err: unknown) => isParleyError(err, 'invalid-argument') && /exceeds 100/.test(err.message),
    );
    rejects(' '.repeat((1 << 20) + 1), /exceeds/);
  });
});

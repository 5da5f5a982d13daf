import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isParleyError } from '../errors.js';
import {
  MAX_SPIFFE_ID_BYTES,
  parseSpiffeId,
  spiffeIdFromSegments,
  spiffeIdProblem,
} from './spiffe-id.js';
import { MAX_TRUST_DOMAIN_BYTES, parseTrustDomain } from './trust-domain.js';

interface Vector {
  readonly name: string;
  readonly section: string;
  readonly input: string;
  readonly valid: boolean;
  readonly trustDomain?: string;
  readonly path?: string;
}

// Compiled tests run from dist/spiffe-id/; the vectors stay in test/vectors/.
function vectors(file: string): readonly Vector[] {
  const text = readFileSync(join(import.meta.dirname, '../../test/vectors', file), 'utf8');
  return (JSON.parse(text) as { cases: Vector[] }).cases;
}

function invalid(err: unknown): boolean {
  return isParleyError(err, 'invalid-argument');
}

describe('parseSpiffeId vectors (SPIFFE-ID §2)', () => {
  for (const v of vectors('spiffe-id.json')) {
    it(`${v.valid ? 'accepts' : 'rejects'} ${v.name} (${v.section})`, () => {
      if (!v.valid) {
        assert.throws(() => parseSpiffeId(v.input), invalid);
        assert.notEqual(spiffeIdProblem(v.input), undefined);
        return;
      }
      const id = parseSpiffeId(v.input);
      assert.equal(spiffeIdProblem(v.input), undefined);
      assert.equal(id.toString(), v.input);
      if (v.trustDomain !== undefined) assert.equal(id.trustDomain.name, v.trustDomain);
      if (v.path !== undefined) assert.equal(id.path, v.path);
      assert.equal(id.trustDomain.idString() + id.path, v.input);
    });
  }
});

describe('parseTrustDomain vectors (SPIFFE-ID §2.1)', () => {
  for (const v of vectors('trust-domain.json')) {
    it(`${v.valid ? 'accepts' : 'rejects'} ${v.name} (${v.section})`, () => {
      if (!v.valid) {
        assert.throws(() => parseTrustDomain(v.input), invalid);
        return;
      }
      const td = parseTrustDomain(v.input);
      assert.equal(td.name, v.input);
      assert.equal(td.toString(), v.input);
      assert.equal(td.idString(), `spiffe://${v.input}`);
      assert.equal(parseSpiffeId(td.idString()).trustDomain.name, v.input);
    });
  }
});

describe('SpiffeId', () => {
  const td = parseTrustDomain('example.org');

  it('round-trips through toString and toJSON', () => {
    for (const text of ['spiffe://example.org', 'spiffe://example.org/ns/prod/sa/Web_1.x-y']) {
      const id = parseSpiffeId(text);
      assert.equal(id.toString(), text);
      assert.equal(parseSpiffeId(id.toString()).toString(), text);
      assert.equal(JSON.stringify({ id }), JSON.stringify({ id: text }));
    }
    assert.equal(JSON.stringify(td), '"example.org"');
  });

  it('compares by value with equals', () => {
    const a = parseSpiffeId('spiffe://example.org/a');
    assert.ok(a.equals(parseSpiffeId('spiffe://example.org/a')));
    assert.ok(!a.equals(parseSpiffeId('spiffe://example.org/A')));
    assert.ok(!a.equals(parseSpiffeId('spiffe://example.org/a/b')));
    assert.ok(!a.equals(parseSpiffeId('spiffe://other.org/a')));
    assert.ok(!a.equals(parseSpiffeId('spiffe://example.org')));
    assert.ok(td.equals(parseTrustDomain('example.org')));
    assert.ok(!td.equals(parseTrustDomain('example.com')));
  });

  it('tells membership of a trust domain', () => {
    assert.ok(parseSpiffeId('spiffe://example.org/a').memberOf(td));
    assert.ok(parseSpiffeId('spiffe://example.org').memberOf(td));
    assert.ok(!parseSpiffeId('spiffe://example.org.evil/a').memberOf(td));
    assert.ok(!parseSpiffeId('spiffe://sub.example.org/a').memberOf(td));
  });

  it('is root only without a path', () => {
    assert.equal(parseSpiffeId('spiffe://example.org').isRoot, true);
    assert.equal(parseSpiffeId('spiffe://example.org/x').isRoot, false);
  });

  it('keeps the path case and exposes its parts', () => {
    const id = parseSpiffeId('spiffe://example.org/Ns/Prod');
    assert.equal(id.trustDomain.name, 'example.org');
    assert.equal(id.path, '/Ns/Prod');
  });
});

describe('spiffeIdFromSegments', () => {
  const td = parseTrustDomain('example.org');

  it('builds IDs from checked segments', () => {
    assert.equal(
      spiffeIdFromSegments(td, 'ns', 'prod', 'sa', 'web').toString(),
      'spiffe://example.org/ns/prod/sa/web',
    );
    assert.equal(spiffeIdFromSegments(td, '...', '.x', 'A_b-c').path, '/.../.x/A_b-c');
    assert.ok(spiffeIdFromSegments(td).isRoot);
    assert.ok(spiffeIdFromSegments(td, 'a').memberOf(td));
  });

  it('rejects bad segments with invalid-argument', () => {
    for (const bad of [
      [''],
      ['.'],
      ['..'],
      ['a', ''],
      ['a', '..'],
      ['a b'],
      ['a%2F'],
      ['é'],
      ['a?'],
      ['a#'],
      ['a:b'],
    ]) {
      assert.throws(() => spiffeIdFromSegments(td, ...bad), invalid, JSON.stringify(bad));
    }
  });

  it('rejects a segment that would make the ID longer than 2048 bytes', () => {
    const room = MAX_SPIFFE_ID_BYTES - 'spiffe://example.org/'.length;
    assert.equal(spiffeIdFromSegments(td, 'a'.repeat(room)).toString().length, MAX_SPIFFE_ID_BYTES);
    assert.throws(() => spiffeIdFromSegments(td, 'a'.repeat(room + 1)), invalid);
  });

  it('rejects a segment containing a slash', () => {
    assert.throws(() => spiffeIdFromSegments(td, 'a/b'), invalid);
    assert.throws(() => spiffeIdFromSegments(td, 'ns', 'x/sa/admin'), invalid);
  });
});

describe('errors', () => {
  it('use the invalid-argument code', () => {
    for (const f of [
      () => parseSpiffeId('spiffe://example.org/a/'),
      () => parseSpiffeId(''),
      () => parseTrustDomain('Example.org'),
      () => parseTrustDomain('spiffe://example.org'),
    ]) {
      assert.throws(f, (err: unknown) => invalid(err) && (err as Error).name === 'ParleyError');
    }
  });

  it('never echo more than a bounded prefix of huge input', () => {
    const huge = [
      'spiffe://example.org/' + 'a'.repeat(1_000_000) + '!',
      'spiffe://example.org/' + 'a'.repeat(1_000_000),
      'spiffe://' + 'a'.repeat(1_000_000),
      'spiffe://' + 'A'.repeat(1_000_000),
      'x'.repeat(1_000_000),
    ];
    for (const text of huge) {
      assert.throws(
        () => parseSpiffeId(text),
        (err: unknown) => invalid(err) && (err as Error).message.length < 300,
      );
    }
    for (const text of ['A'.repeat(1_000_000), 'a'.repeat(1_000_000), 'a'.repeat(100_000) + ':1']) {
      assert.throws(
        () => parseTrustDomain(text),
        (err: unknown) => invalid(err) && (err as Error).message.length < 300,
      );
    }
  });

  it('bound trust domains at 255 bytes', () => {
    assert.equal(parseTrustDomain('a'.repeat(MAX_TRUST_DOMAIN_BYTES)).name.length, 255);
    assert.throws(() => parseTrustDomain('a'.repeat(MAX_TRUST_DOMAIN_BYTES + 1)), invalid);
    assert.throws(
      () => parseSpiffeId(`spiffe://${'a'.repeat(MAX_TRUST_DOMAIN_BYTES + 1)}/x`),
      invalid,
    );
  });
});

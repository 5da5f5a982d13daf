import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isParleyError, parseSpiffeId, parseTrustDomain } from '@parley/core';
import { parseSelector } from '@parley/core';
import { type EntryInput, validateEntryInput } from './registration-entry.js';

const td = parseTrustDomain('example.org');
const base: EntryInput = {
  spiffeId: parseSpiffeId('spiffe://example.org/web'),
  parentId: parseSpiffeId('spiffe://example.org/parley/agent/join_token/abc'),
  selectors: [{ type: 'unix', value: 'uid:1000' }],
  x509SvidTtl: 0,
  jwtSvidTtl: 0,
  dnsNames: [],
  federatesWith: [],
  hint: '',
  admin: false,
  downstream: false,
};
const rejects = (input: EntryInput) =>
  assert.throws(
    () => validateEntryInput(td, input),
    (e) => isParleyError(e, 'invalid-argument'),
  );

describe('registration entry validation', () => {
  it('accepts a well-formed entry unchanged', () => {
    assert.deepEqual(validateEntryInput(td, base), base);
  });

  it('parses selectors at the first colon and rejects bad ones', () => {
    assert.deepEqual(parseSelector('unix:uid:1000'), { type: 'unix', value: 'uid:1000' });
    for (const bad of [
      'unix',
      ':x',
      'unix:',
      'un ix:uid',
      'a'.repeat(65) + ':v',
      'k8s:ns:\u0000',
    ]) {
      assert.throws(
        () => parseSelector(bad),
        (e) => isParleyError(e, 'invalid-argument'),
        bad,
      );
    }
  });

  it('rejects IDs outside the trust domain, without a path, or under the reserved prefix', () => {
    rejects({ ...base, spiffeId: parseSpiffeId('spiffe://other.org/web') });
    rejects({ ...base, spiffeId: parseSpiffeId('spiffe://example.org') });
    rejects({ ...base, spiffeId: parseSpiffeId('spiffe://example.org/parley/agent/x') });
    rejects({ ...base, spiffeId: parseSpiffeId('spiffe://example.org/parley') });
    rejects({ ...base, parentId: parseSpiffeId('spiffe://other.org/agent') });
  });

  it('rejects empty, duplicate or malformed selectors', () => {
    rejects({ ...base, selectors: [] });
    rejects({ ...base, selectors: [base.selectors[0]!, base.selectors[0]!] });
    rejects({ ...base, selectors: [{ type: 'a:b', value: 'c' }] });
    rejects({ ...base, selectors: [{ type: 'unix', value: '' }] });
  });

  it('allows only parley:socket:<name> of the reserved parley selector type', () => {
    const web = { ...base, selectors: [{ type: 'parley', value: 'socket:web-1' }] };
    assert.deepEqual(validateEntryInput(td, web), web);
    rejects({ ...base, selectors: [{ type: 'parley', value: 'admin' }] });
    rejects({ ...base, selectors: [{ type: 'parley', value: 'socket:Web' }] });
    rejects({ ...base, selectors: [{ type: 'parley', value: 'socket:../x' }] });
  });

  it('bounds TTLs, DNS names, federation, hint and id', () => {
    rejects({ ...base, x509SvidTtl: -1 });
    rejects({ ...base, jwtSvidTtl: 1.5 });
    rejects({ ...base, dnsNames: ['not a name'] });
    rejects({ ...base, federatesWith: [td] });
    rejects({ ...base, hint: 'x'.repeat(1025) });
    rejects({ ...base, id: '../etc' });
  });
});

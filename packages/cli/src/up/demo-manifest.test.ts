import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDemoManifest } from './demo-manifest.js';

const GOOD = {
  trustDomain: 'example.org',
  idPrefix: '/sock-shop/',
  services: [
    { name: 'front-end', main: 'front-end.js' },
    { name: 'catalogue-v2', main: 'catalogue.js', env: { CATALOGUE_VERSION: 'v2' } },
  ],
  edge: { service: 'edge', port: 8080 },
  load: { main: 'load.js' },
};

describe('parseDemoManifest', () => {
  it('reads services, the edge and the load generator', () => {
    const m = parseDemoManifest(JSON.stringify(GOOD));
    assert.equal(m.trustDomain, 'example.org');
    assert.deepEqual(m.services[1], {
      name: 'catalogue-v2',
      main: 'catalogue.js',
      env: { CATALOGUE_VERSION: 'v2' },
    });
    assert.deepEqual(m.services[0]?.env, {});
    assert.deepEqual(m.edge, { service: 'edge', port: 8080 });
    assert.deepEqual(m.load, { main: 'load.js' });
  });

  const bad: [string, unknown, RegExp][] = [
    ['not JSON', '{', /not JSON/],
    [
      'a bad service name',
      { ...GOOD, services: [{ name: 'Front', main: 'a.js' }] },
      /services\[0\]\.name/,
    ],
    [
      'a main outside dist',
      { ...GOOD, services: [{ name: 'a', main: 'a/../x.js' }] },
      /inside dist/,
    ],
    ['a repeated name', { ...GOOD, services: [GOOD.services[0], GOOD.services[0]] }, /repeated/],
    ['a bad port', { ...GOOD, edge: { service: 'edge', port: 70000 } }, /edge\.port/],
    [
      'an edge that is a service',
      { ...GOOD, edge: { service: 'front-end', port: 1 } },
      /also a service/,
    ],
    [
      'a non-string env',
      { ...GOOD, services: [{ name: 'a', main: 'a.js', env: { X: 1 } }] },
      /env\.X/,
    ],
  ];
  for (const [what, value, error] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => parseDemoManifest(typeof value === 'string' ? value : JSON.stringify(value)),
        error,
      );
    });
  }
});

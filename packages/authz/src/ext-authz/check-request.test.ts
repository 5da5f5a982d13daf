import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadXdsServices } from '@parley/api';
import { CHECK_REQUEST_LIMITS, checkRequestToAuthz, seenOfCheckRequest } from './check-request.js';
import {
  BACKEND,
  FRONTEND,
  TD,
  type TestCheck,
  checkRequest,
  protoValue,
  testSnapshot,
} from './ext-authz-test-fixtures.js';

const snapshot = testSnapshot();
const T = new Date('2026-03-03T10:00:00Z');

/** The request as grpc-js would hand it to the handler: through the real codec and loader. */
function decoded(t: TestCheck): unknown {
  const check = loadXdsServices().Authorization.service['Check'];
  assert.ok(check !== undefined);
  return check.requestDeserialize(check.requestSerialize(checkRequest(t)));
}

function mapped(t: TestCheck) {
  const r = checkRequestToAuthz(decoded(t), snapshot, T);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r;
}

function refused(t: unknown, raw = false) {
  const r = checkRequestToAuthz(raw ? t : decoded(t as TestCheck), snapshot, T);
  assert.ok(!r.ok, 'expected a refusal');
  return r;
}

describe('checkRequestToAuthz', () => {
  it('maps principals, addresses, service attributes, method, host and the raw path', () => {
    const r = mapped({ path: '/api/items?x=1', requestId: 'abc' });
    assert.equal(r.requestId, 'abc');
    assert.deepEqual(r.request.source, {
      principal: FRONTEND,
      address: '127.0.0.1',
      service: 'frontend',
      attributes: { team: 'shop' },
    });
    assert.deepEqual(r.request.destination, {
      service: 'backend',
      principal: BACKEND,
      // The sidecar's inbound listener (15006) stands for the Service's first port.
      port: 8080,
      attributes: { environment: 'prod', team: 'shop' },
    });
    assert.equal(r.request.request.method, 'GET');
    assert.equal(r.request.request.host, 'backend');
    assert.equal(r.request.request.path, '/api/items?x=1');
    assert.equal(r.request.time, T);
    assert.equal(r.request.request.auth, undefined);
  });

  it('keeps a socket port that is one of the Service ports', () => {
    assert.equal(mapped({ port: 8080 }).request.destination.port, 8080);
  });

  it('reads repeated raw headers apart, lower-casing names', () => {
    const r = mapped({
      headers: [
        ['X-Role', 'reader'],
        ['x-role', 'guest'],
        ['x-one', 'v, w'],
      ],
    });
    assert.deepEqual(r.request.request.headers['x-role'], ['reader', 'guest']);
    assert.equal(r.request.request.headers['x-one'], 'v, w');
    assert.equal(r.request.request.headers[':path'], '/api/items');
  });

  it('falls back to the headers map when header_map is absent', () => {
    const r = mapped({ headerMap: { 'x-role': 'reader,guest', 'x-request-id': 'from-map' } });
    assert.equal(r.request.request.headers['x-role'], 'reader,guest');
    assert.equal(r.requestId, 'from-map');
  });

  it('converts the JWT payload Struct to plain JSON claims', () => {
    const claims = {
      sub: 'alice',
      group: 'admins',
      n: 3,
      ok: true,
      none: null,
      realm: { roles: ['a', 'b'] },
      __proto__x: 1,
    };
    const r = mapped({ payload: protoValue(claims) });
    assert.deepEqual(r.request.request.auth?.claims, claims);
  });

  it('keeps a claim named __proto__ as data', () => {
    const payload = { structValue: { fields: { ['__proto__']: { stringValue: 'x' } } } };
    const claims = mapped({ payload }).request.request.auth?.claims ?? {};
    assert.ok(Object.hasOwn(claims, '__proto__'));
    assert.equal(Object.getPrototypeOf(claims), Object.prototype);
  });

  it('refuses a destination the snapshot does not know, and an empty one', () => {
    assert.match(
      refused({ destination: `${TD}/nobody` }).reason,
      /destination spiffe:\/\/example.org\/nobody is not a workload of the mesh/,
    );
    assert.match(refused({ destination: '' }).reason, /destination principal is empty/);
  });

  it('refuses a source principal that is not a SPIFFE ID', () => {
    assert.match(refused({ source: 'frontend.example.org' }).reason, /not a SPIFFE ID/);
  });

  it('treats an empty source principal as an unauthenticated caller', () => {
    const r = mapped({ source: '' });
    assert.equal(r.request.source.principal, undefined);
    assert.equal(r.request.source.service, undefined);
  });

  it('refuses header values that are not UTF-8, without echoing them', () => {
    const r = refused({ headers: [['x-bin', Buffer.from([0x61, 0xff, 0xfe])]] });
    assert.equal(r.reason, 'request header x-bin is not valid UTF-8');
  });

  it('refuses requests past the bounds', () => {
    const many = Array.from(
      { length: CHECK_REQUEST_LIMITS.maxHeaders },
      (_, i): [string, string] => [`x-h${i}`, 'v'],
    );
    assert.match(refused({ headers: many }).reason, /more than 1024 request headers/);
    const big = [['x-big', 'a'.repeat(CHECK_REQUEST_LIMITS.maxHeaderBytes)]] as [string, string][];
    assert.match(refused({ headers: big }).reason, /request headers exceed/);
    assert.match(
      refused({ path: `/${'a'.repeat(CHECK_REQUEST_LIMITS.maxPathLength)}` }).reason,
      /path is too long/,
    );
    let deep: unknown = { stringValue: 'x' };
    for (let i = 0; i < 40; i++) deep = { listValue: { values: [deep] } };
    assert.match(refused({ payload: { structValue: { fields: { d: deep } } } }).reason, /deeper/);
    assert.match(refused({ payload: { stringValue: 'x' } }).reason, /payload .* not an object/);
  });

  it('refuses a request without HTTP attributes or of the wrong shape', () => {
    assert.match(refused({}, true).reason, /no attributes.request.http/);
    assert.match(refused('nonsense', true).reason, /no attributes.request.http/);
    assert.match(refused({ method: '' }).reason, /no method/);
  });

  it('echoes only a request id that is safe in a header', () => {
    assert.equal(mapped({ requestId: 'a b' }).requestId, '-');
    assert.equal(mapped({ requestId: 'x'.repeat(300) }).requestId, '-');
  });

  it('reads what a request looked like without a snapshot', () => {
    const { requestId, seen } = seenOfCheckRequest(decoded({ requestId: 'r9', path: '/p' }));
    assert.equal(requestId, 'r9');
    assert.deepEqual(seen, {
      source: { principal: FRONTEND, address: '127.0.0.1' },
      destination: { principal: BACKEND, port: 15006 },
      request: { method: 'GET', host: 'backend', path: '/p', headers: {} },
    });
  });
});

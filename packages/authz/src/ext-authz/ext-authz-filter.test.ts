import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkMessage, decodeAny, encodeAny } from '@parley/api';
import { EXT_AUTHZ_TYPE_URL, extAuthzFilter } from './ext-authz-filter.js';

const TYPE = 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';

describe('extAuthzFilter', () => {
  it('matches the ExtAuthz schema and encodes as an Any', () => {
    const filter = extAuthzFilter({ clusterName: 'parley_authz' });
    assert.equal(filter.name, 'envoy.filters.http.ext_authz');
    const { '@type': type, ...config } = filter.typed_config;
    assert.equal(type, EXT_AUTHZ_TYPE_URL);
    assert.deepEqual(checkMessage(TYPE, config), []);
    const decoded = decodeAny(encodeAny(EXT_AUTHZ_TYPE_URL, config));
    assert.deepEqual(decoded['grpc_service'], {
      envoy_grpc: { cluster_name: 'parley_authz' },
      timeout: { seconds: '0', nanos: 500_000_000 },
    });
  });

  it('fails closed and asks for raw headers and the JWT metadata', () => {
    const c = extAuthzFilter({ clusterName: 'authz' }).typed_config;
    assert.equal(c['failure_mode_allow'], false);
    assert.deepEqual(c['status_on_error'], { code: 'Forbidden' });
    assert.equal(c['transport_api_version'], 'V3');
    assert.equal(c['encode_raw_headers'], true);
    assert.deepEqual(c['metadata_context_namespaces'], ['envoy.filters.http.jwt_authn']);
    assert.equal(c['include_peer_certificate'], false);
  });

  it('takes a timeout in milliseconds', () => {
    const c = extAuthzFilter({ clusterName: 'authz', timeoutMs: 2250 }).typed_config;
    assert.deepEqual((c['grpc_service'] as Record<string, unknown>)['timeout'], {
      seconds: 2,
      nanos: 250_000_000,
    });
  });

  it('refuses a bad timeout or an empty cluster (programmer errors)', () => {
    assert.throws(() => extAuthzFilter({ clusterName: 'a', timeoutMs: 0 }), RangeError);
    assert.throws(() => extAuthzFilter({ clusterName: 'a', timeoutMs: 1.5 }), RangeError);
    assert.throws(() => extAuthzFilter({ clusterName: '' }), RangeError);
  });
});

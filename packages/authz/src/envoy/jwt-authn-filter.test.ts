import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AuthzJwtIssuer, checkMessage, decodeAny, encodeAny } from '@parley/api';
import { testSigningKey } from '../jwt/jwt-test-fixtures.js';
import {
  JWT_AUTHN_TYPE_URL,
  JWT_PAYLOAD_METADATA_KEY,
  jwtAuthnFilter,
  jwtProviderName,
} from './jwt-authn-filter.js';
import { jwksClusterName, jwksClusters } from './jwt-jwks-clusters.js';

const TYPE = 'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';
const key = testSigningKey('ES256', 'k1');
const BEARER = [{ name: 'authorization', prefix: 'Bearer ' }];
const inline: AuthzJwtIssuer = {
  issuer: 'https://tokens.example.org',
  audiences: ['orders'],
  jwks: { kind: 'inline', keys: [key.jwk] },
  fromHeaders: BEARER,
};
const remote: AuthzJwtIssuer = {
  issuer: 'partner',
  audiences: [],
  jwks: { kind: 'remote', uri: 'https://keys.partner.example:8443/jwks' },
  fromHeaders: [{ name: 'x-jwt', prefix: '' }],
};

describe('jwtAuthnFilter', () => {
  it('is absent without issuers', () => {
    assert.equal(jwtAuthnFilter([]), undefined);
  });

  it('matches the JwtAuthentication schema and encodes as an Any', () => {
    const filter = jwtAuthnFilter([inline, remote]);
    assert.equal(filter?.name, 'envoy.filters.http.jwt_authn');
    const { '@type': type, ...config } = filter?.typed_config ?? {};
    assert.equal(type, JWT_AUTHN_TYPE_URL);
    assert.deepEqual(checkMessage(TYPE, config), []);
    const decoded = decodeAny(encodeAny(JWT_AUTHN_TYPE_URL, config));
    assert.deepEqual(Object.keys(decoded['providers'] as object).sort(), ['issuer-0', 'issuer-1']);
  });

  it('has one provider per issuer: inline or remote keys, headers, claims in metadata', () => {
    const providers = jwtAuthnFilter([inline, remote])?.typed_config['providers'] as Record<
      string,
      Record<string, unknown>
    >;
    assert.deepEqual(providers[jwtProviderName(0)], {
      issuer: 'https://tokens.example.org',
      audiences: ['orders'],
      local_jwks: { inline_string: JSON.stringify({ keys: [key.jwk] }) },
      from_headers: [{ name: 'authorization', value_prefix: 'Bearer ' }],
      forward: true,
      payload_in_metadata: JWT_PAYLOAD_METADATA_KEY,
      require_expiration: true,
      clock_skew_seconds: 60,
    });
    const p1 = providers[jwtProviderName(1)];
    assert.equal(p1?.['audiences'], undefined);
    assert.deepEqual(p1?.['from_headers'], [{ name: 'x-jwt' }]);
    assert.deepEqual(p1?.['remote_jwks'], {
      http_uri: {
        uri: 'https://keys.partner.example:8443/jwks',
        cluster: jwksClusterName('https://keys.partner.example:8443/jwks'),
        timeout: { seconds: 5, nanos: 0 },
      },
      cache_duration: { seconds: 300 },
      async_fetch: { fast_listener: false },
    });
  });

  it('lets a request without a token through and requires any issuer to verify a token', () => {
    const rules = jwtAuthnFilter([inline, remote])?.typed_config['rules'];
    assert.deepEqual(rules, [
      {
        match: { prefix: '/' },
        requires: {
          requires_any: {
            requirements: [
              { provider_name: 'issuer-0' },
              { provider_name: 'issuer-1' },
              { allow_missing: {} },
            ],
          },
        },
      },
    ]);
  });
});

describe('jwksClusters', () => {
  const withUri = (uri: string, issuer = uri): AuthzJwtIssuer => ({
    ...remote,
    issuer,
    jwks: { kind: 'remote', uri },
  });

  it('emits one valid Cluster per remote scheme, host and port, none for inline keys', () => {
    const clusters = jwksClusters([
      inline,
      withUri('https://keys.example.org/jwks'),
      withUri('https://keys.example.org/other', 'second'),
      withUri('http://127.0.0.1:8080/jwks'),
      withUri('http://[::1]:8080/jwks'),
    ]);
    const names = clusters.map((c) => String(c['name']));
    assert.equal(names.length, 3);
    assert.equal(names[0], 'jwks_http_127.0.0.1_8080');
    // An IPv6 host keeps a hash of its address, so that sanitized names stay distinct.
    assert.match(names[1] ?? '', /^jwks_http___1_8080_[0-9a-f]{8}$/);
    assert.equal(names[2], 'jwks_https_keys.example.org_443');
    for (const c of clusters) {
      assert.deepEqual(checkMessage('envoy.config.cluster.v3.Cluster', c), [], String(c['name']));
    }
    assert.equal(jwksClusters([inline]).length, 0);
  });

  it('resolves names by DNS and verifies https servers by SNI and SAN', () => {
    const [named] = jwksClusters([withUri('https://keys.example.org/jwks')]);
    assert.equal(named?.['type'], 'LOGICAL_DNS');
    const tls = (named?.['transport_socket'] as { typed_config: Record<string, unknown> })
      .typed_config;
    assert.equal(tls['sni'], 'keys.example.org');
    assert.deepEqual(tls['common_tls_context'], {
      tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
      validation_context: {
        trusted_ca: { filename: '/etc/ssl/certs/ca-certificates.crt' },
        match_typed_subject_alt_names: [
          { san_type: 'DNS', matcher: { exact: 'keys.example.org' } },
        ],
      },
    });
    const [ip] = jwksClusters([withUri('https://127.0.0.1:8443/jwks')], {
      trustedCa: { pem: 'PEM' },
    });
    assert.equal(ip?.['type'], 'STATIC');
    const ipTls = (ip?.['transport_socket'] as { typed_config: Record<string, unknown> })
      .typed_config;
    assert.equal(ipTls['sni'], undefined);
    assert.deepEqual(
      (ipTls['common_tls_context'] as { validation_context: unknown }).validation_context,
      {
        trusted_ca: { inline_string: 'PEM' },
        match_typed_subject_alt_names: [
          { san_type: 'IP_ADDRESS', matcher: { exact: '127.0.0.1' } },
        ],
      },
    );
    const [plain] = jwksClusters([withUri('http://127.0.0.1:8080/jwks')]);
    assert.equal(plain?.['transport_socket'], undefined);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decisionFromAccessLog, sampled } from './access-log-decision.js';

/** JSON as grpc-js decodes a google.protobuf.Struct (camelCase Value fields). */
function jsonToStruct(object: Record<string, unknown>): { fields: Record<string, unknown> } {
  const value = (v: unknown): unknown =>
    typeof v === 'string'
      ? { stringValue: v, kind: 'stringValue' }
      : typeof v === 'number'
        ? { numberValue: v, kind: 'numberValue' }
        : typeof v === 'boolean'
          ? { boolValue: v, kind: 'boolValue' }
          : Array.isArray(v)
            ? { listValue: { values: v.map(value) }, kind: 'listValue' }
            : v === null
              ? { nullValue: 'NULL_VALUE', kind: 'nullValue' }
              : { structValue: jsonToStruct(v as Record<string, unknown>), kind: 'structValue' };
  return { fields: Object.fromEntries(Object.entries(object).map(([k, v]) => [k, value(v)])) };
}

const BACKEND = 'spiffe://example.org/backend';
const ctx = {
  destination: BACKEND,
  service: 'backend',
  ports: [80],
  version: 'abc123',
  headerNames: ['x-role'],
  sampleAllows: 0,
  now: 1_700_000_000_000,
};

/** An HTTP access log entry as grpc-js decodes it. */
function entry(options: {
  code: number;
  details?: string;
  metadata?: Record<string, Record<string, unknown>>;
  requestId?: string;
}) {
  return {
    common_properties: {
      downstream_remote_address: { socket_address: { address: '127.0.0.1', port_value: 5555 } },
      downstream_local_address: { socket_address: { address: '127.0.0.1', port_value: 15001 } },
      tls_properties: {
        peer_certificate_properties: {
          subject_alt_name: [{ uri: 'spiffe://example.org/web', san: 'uri' }],
        },
      },
      metadata: {
        filter_metadata: Object.fromEntries(
          Object.entries(options.metadata ?? {}).map(([k, v]) => [k, jsonToStruct(v)]),
        ),
      },
    },
    request: {
      request_method: 'GET',
      authority: 'backend',
      path: '/admin/x',
      request_id: options.requestId ?? 'req-1',
      request_headers: { 'x-role': 'guest', cookie: 'secret' },
    },
    response: {
      response_code: { value: options.code },
      response_code_details: options.details ?? 'via_upstream',
    },
  };
}

describe('decision log from Envoy access log entries', () => {
  it('records an RBAC deny with the deciding policy and rule, and only the policy headers', () => {
    const r = decisionFromAccessLog(
      entry({ code: 403, details: 'rbac_access_denied_matched_policy[no-admin/rule-0]' }),
      ctx,
    );
    assert.deepEqual(r, {
      at: ctx.now,
      requestId: 'req-1',
      version: 'abc123',
      enforcedBy: 'rbac',
      source: { principal: 'spiffe://example.org/web', address: '127.0.0.1' },
      destination: { service: 'backend', principal: BACKEND, port: 80 },
      request: { method: 'GET', host: 'backend', path: '/admin/x', headers: { 'x-role': 'guest' } },
      outcome: 'deny',
      policy: 'no-admin',
      rule: 'rule-0',
      why: 'RBAC policy "no-admin/rule-0" denies',
    });
  });

  it('records a deny by no matching ALLOW rule', () => {
    const r = decisionFromAccessLog(
      entry({ code: 403, details: 'rbac_access_denied_matched_policy[none]' }),
      ctx,
    );
    assert.equal(r?.outcome, 'deny');
    assert.equal(r?.policy, undefined);
    assert.match(r?.why ?? '', /no ALLOW rule/);
  });

  it('takes ext_authz decisions from its dynamic metadata', () => {
    const r = decisionFromAccessLog(
      entry({
        code: 403,
        details: 'ext_authz_denied',
        metadata: {
          'envoy.filters.http.ext_authz': {
            outcome: 'deny',
            policy: 'p',
            rule: 'r',
            why: 'DENY policy "p" rule "r" matches',
            dryRun: 'deny',
            dryRunPolicy: 'd',
            dryRunRule: 'x',
          },
        },
      }),
      ctx,
    );
    assert.equal(r?.enforcedBy, 'ext_authz');
    assert.equal(r?.why, 'DENY policy "p" rule "r" matches');
    assert.deepEqual(r?.dryRun, { outcome: 'deny', policy: 'd', rule: 'x' });
  });

  it('records an ext_authz failure as a fail-closed deny', () => {
    const r = decisionFromAccessLog(entry({ code: 403, details: 'ext_authz_error' }), ctx);
    assert.equal(r?.outcome, 'deny');
    assert.match(r?.why ?? '', /fail closed/);
  });

  it('records a rejected end-user JWT as a 401 by the JWT filter', () => {
    const r = decisionFromAccessLog(
      entry({ code: 401, details: 'jwt_authn_access_denied{Jwt_is_expired}' }),
      ctx,
    );
    assert.equal(r?.enforcedBy, 'jwt');
  });

  it('records an allow only when sampled, and a dry-run "would deny" always', () => {
    assert.equal(decisionFromAccessLog(entry({ code: 200 }), ctx), undefined);
    assert.equal(
      decisionFromAccessLog(entry({ code: 200 }), { ...ctx, sampleAllows: 1 })?.outcome,
      'allow',
    );
    const dry = decisionFromAccessLog(
      entry({
        code: 200,
        metadata: {
          'envoy.filters.http.rbac': {
            parley_dry_run_deny_shadow_engine_result: 'denied',
            parley_dry_run_deny_shadow_effective_policy_id: 'lockdown/all',
          },
        },
      }),
      ctx,
    );
    assert.deepEqual(dry?.dryRun, { outcome: 'deny', policy: 'lockdown', rule: 'all' });
    assert.equal(dry?.outcome, 'allow');
  });

  it('keeps verified claims, never a token', () => {
    const r = decisionFromAccessLog(
      entry({
        code: 403,
        details: 'rbac_access_denied_matched_policy[none]',
        metadata: { 'envoy.filters.http.jwt_authn': { payload: { sub: 'alice', roles: ['a'] } } },
      }),
      ctx,
    );
    assert.deepEqual(r?.request.claims, { sub: 'alice', roles: ['a'] });
  });

  it('skips entries without a request ID or a response', () => {
    assert.equal(decisionFromAccessLog(entry({ code: 403, requestId: '' }), ctx), undefined);
    assert.equal(decisionFromAccessLog(entry({ code: 0 }), { ...ctx, sampleAllows: 1 }), undefined);
    assert.equal(decisionFromAccessLog(null, ctx), undefined);
  });

  it('samples by request ID, deterministically and in proportion', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `id-${i}`);
    const share = ids.filter((id) => sampled(id, 0.1)).length / ids.length;
    assert.ok(share > 0.08 && share < 0.12, `share ${share}`);
    assert.equal(sampled('x', 0.1), sampled('x', 0.1));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isParleyError } from '@parley/core';
import { evaluateRequest } from '../evaluate/evaluate-request.js';
import {
  type AuthzWorkload,
  MAX_AUTHZ_SNAPSHOT_LENGTH,
  authzSnapshot,
  parseAuthzSnapshot,
  serializeAuthzSnapshot,
} from './authz-snapshot.js';
import { buildPolicySet } from './build-policy-set.js';
import type {
  AuthzRequest,
  Expression,
  Operation,
  PolicyDocument,
  Rule,
  StringPattern,
} from './policy.js';

const sp = (text: string): StringPattern =>
  text === '*'
    ? { kind: 'any', text }
    : text.startsWith('*')
      ? { kind: 'suffix', value: text.slice(1), text }
      : text.endsWith('*')
        ? { kind: 'prefix', value: text.slice(0, -1), text }
        : { kind: 'exact', value: text, text };
const op = (o: Partial<Operation>): Operation => ({
  hosts: [],
  notHosts: [],
  methods: [],
  notMethods: [],
  paths: [],
  notPaths: [],
  ports: [],
  notPorts: [],
  ignoreCase: false,
  ...o,
});
const rule = (name: string, r: Partial<Omit<Rule, 'name'>>): Rule => ({
  name,
  from: [],
  to: [],
  roles: [],
  when: [],
  ...r,
});
const attr = (...path: string[]): Expression => ({ op: 'attribute', path });
const TD = 'spiffe://example.org';

// Every kind of pattern, condition and expression node, so the round trip covers the whole model.
const documents: PolicyDocument[] = [
  {
    metadata: { name: 'mesh' },
    action: 'ALLOW',
    rules: [],
    dryRun: false,
    defaultAction: 'DENY',
    roles: [
      {
        name: 'reader',
        principals: [sp(`${TD}/ops/*`)],
        permissions: [op({ methods: ['GET', 'HEAD'], paths: [sp('/catalogue/*')] })],
      },
    ],
  },
  {
    metadata: { name: 'backend-allow' },
    selector: { services: ['backend'], spiffeIds: [sp(`${TD}/backend*`)] },
    action: 'ALLOW',
    dryRun: false,
    roles: [],
    rules: [
      rule('readers', { roles: ['reader'] }),
      rule('frontend-api', {
        from: [
          {
            principals: [sp(`${TD}/frontend`)],
            notPrincipals: [sp('*/evil')],
            trustDomains: ['example.org'],
            notTrustDomains: [],
          },
        ],
        to: [
          op({
            hosts: [
              { name: sp('backend'), text: 'backend' },
              { name: sp('*.example.org'), port: 8443, text: '*.example.org:8443' },
            ],
            methods: ['GET', 'POST'],
            paths: [
              sp('/api/*'),
              {
                kind: 'template',
                segments: ['items', { wildcard: '*' }, 'reviews', { wildcard: '**' }],
                text: '/items/{*}/reviews/{**}',
              },
            ],
            notPaths: [sp('*.bak')],
            ports: [8080],
          }),
        ],
      }),
      rule('same-team', {
        from: [
          { principals: [], notPrincipals: [], trustDomains: ['example.org'], notTrustDomains: [] },
        ],
        when: [
          {
            kind: 'expression',
            text: "source.attributes.team == destination.attributes.team && request.headers['x-mode'] != 'debug'",
            expression: {
              op: 'and',
              left: {
                op: '==',
                left: attr('source', 'attributes', 'team'),
                right: attr('destination', 'attributes', 'team'),
              },
              right: {
                op: '!=',
                left: attr('request', 'headers', 'x-mode'),
                right: { op: 'literal', value: 'debug' },
              },
            },
          },
        ],
      }),
      rule('claims-and-time', {
        when: [
          { kind: 'claim', path: ['realm', 'roles'], values: [sp('admin')], notValues: [] },
          {
            kind: 'sourceIp',
            values: [
              { bytes: [10, 0, 0, 0], prefixLength: 8, text: '10.0.0.0/8' },
              { bytes: [0xfd, ...Array<number>(15).fill(0)], prefixLength: 8, text: 'fd00::/8' },
            ],
            notValues: [],
          },
          { kind: 'time', days: [1, 2, 3, 4, 5], start: 9 * 60, end: 17 * 60 },
          {
            kind: 'expression',
            text: "request.method in ['GET', 'HEAD'] || !(request.path.startsWith('/x')) || destination.port == 1",
            expression: {
              op: 'or',
              left: {
                op: 'in',
                left: attr('request', 'method'),
                right: {
                  op: 'list',
                  items: [
                    { op: 'literal', value: 'GET' },
                    { op: 'literal', value: 'HEAD' },
                  ],
                },
              },
              right: {
                op: 'or',
                left: {
                  op: 'not',
                  arg: {
                    op: 'startsWith',
                    target: attr('request', 'path'),
                    arg: { op: 'literal', value: '/x' },
                  },
                },
                right: {
                  op: '==',
                  left: attr('destination', 'port'),
                  right: { op: 'literal', value: 1 },
                },
              },
            },
          },
        ],
      }),
    ],
  },
  {
    metadata: { name: 'backend-deny' },
    selector: { services: ['backend'], spiffeIds: [] },
    action: 'DENY',
    dryRun: false,
    roles: [],
    rules: [
      rule('admin', { to: [op({ paths: [sp('/admin/*')], ignoreCase: true })] }),
      rule('guests', {
        when: [{ kind: 'header', name: 'x-role', values: [sp('guest')], notValues: [sp('*-ok')] }],
      }),
      rule('prod-only', {
        when: [
          {
            kind: 'attribute',
            of: 'destination',
            name: 'environment',
            values: ['staging'],
            notValues: [],
          },
        ],
      }),
    ],
  },
  {
    metadata: { name: 'backend-dry' },
    selector: { services: ['backend'], spiffeIds: [] },
    action: 'DENY',
    dryRun: true,
    external: true,
    roles: [],
    rules: [rule('no-post', { to: [op({ methods: ['POST'], notPorts: [9] })] })],
  },
  {
    metadata: { name: 'audit-all' },
    action: 'AUDIT',
    dryRun: false,
    roles: [],
    rules: [
      rule('rule-0', {
        when: [{ kind: 'header', name: 'X-Trace', values: [sp('*')], notValues: [] }],
      }),
    ],
  },
];

const workloads: AuthzWorkload[] = [
  {
    service: 'backend',
    spiffeId: `${TD}/backend`,
    ports: [8080],
    attributes: { environment: 'prod', team: 'shop', sensitivity: 'internal' },
  },
  {
    service: 'frontend',
    spiffeId: `${TD}/frontend`,
    ports: [80],
    attributes: { team: 'shop' },
  },
  { service: 'ops', spiffeId: `${TD}/ops/alice`, ports: [], attributes: {} },
];

const snapshot = authzSnapshot('commit-1', buildPolicySet(documents), workloads);

function request(r: {
  source?: string;
  method?: string;
  path?: string;
  headers?: Record<string, string | string[]>;
  claims?: Record<string, unknown>;
  address?: string;
  time?: string;
}): AuthzRequest {
  const source = snapshot.workloads.get(r.source ?? `${TD}/frontend`);
  const dest = snapshot.workloads.get(`${TD}/backend`);
  return {
    source: {
      principal: r.source ?? `${TD}/frontend`,
      address: r.address ?? '10.1.2.3',
      ...(source !== undefined && { service: source.service, attributes: source.attributes }),
    },
    destination: {
      service: 'backend',
      principal: `${TD}/backend`,
      port: 8080,
      attributes: dest?.attributes ?? {},
    },
    request: {
      method: r.method ?? 'GET',
      host: 'backend',
      path: r.path ?? '/api/items',
      headers: r.headers ?? {},
      ...(r.claims !== undefined && { auth: { claims: r.claims } }),
    },
    time: new Date(r.time ?? '2026-03-03T10:00:00Z'),
  };
}

const cases: AuthzRequest[] = [
  request({}),
  request({ method: 'POST' }),
  request({ method: 'DELETE' }),
  request({ path: '/ADMIN/x' }),
  request({ path: '/items/1/reviews/a/b' }),
  request({ path: '/api/x.bak' }),
  request({ headers: { 'x-role': 'guest' } }),
  request({ headers: { 'x-role': ['a', 'guest'] } }),
  request({ source: `${TD}/ops/alice`, path: '/catalogue/1' }),
  request({ source: `${TD}/ops/alice`, path: '/catalogue/1', method: 'POST' }),
  request({ source: `${TD}/payments`, path: '/other' }),
  request({ source: `${TD}/payments`, headers: { 'x-mode': 'debug' } }),
  request({ source: `${TD}/payments`, claims: { realm: { roles: ['admin'] } } }),
  request({
    source: `${TD}/payments`,
    claims: { realm: { roles: ['admin'] } },
    time: '2026-03-08T10:00:00Z',
  }),
  request({
    source: `${TD}/payments`,
    claims: { realm: { roles: ['admin'] } },
    address: '192.0.2.1',
  }),
  request({ headers: { 'x-trace': '1' } }),
  request({ path: '//admin' }),
  request({ path: '/%2Fadmin' }),
];

describe('authzSnapshot', () => {
  it('indexes workloads by SPIFFE ID and lists the header names the policies use', () => {
    assert.equal(snapshot.workloads.get(`${TD}/frontend`)?.service, 'frontend');
    assert.deepEqual(snapshot.headerNames, ['x-mode', 'x-role', 'x-trace']);
  });

  it('refuses two workloads with one SPIFFE ID', () => {
    assert.throws(
      () => authzSnapshot('v', snapshot.policySet, [...workloads, workloads[0] as AuthzWorkload]),
      TypeError,
    );
  });
});

describe('serializeAuthzSnapshot / parseAuthzSnapshot', () => {
  it('round-trips the snapshot exactly', () => {
    const parsed = parseAuthzSnapshot(serializeAuthzSnapshot(snapshot));
    assert.deepEqual(parsed, snapshot);
    assert.equal(serializeAuthzSnapshot(parsed), serializeAuthzSnapshot(snapshot));
  });

  it('gives identical decisions before and after the round trip', () => {
    const parsed = parseAuthzSnapshot(serializeAuthzSnapshot(snapshot));
    const outcomes = new Set<string>();
    for (const req of cases) {
      const before = evaluateRequest(snapshot.policySet, req);
      const after = evaluateRequest(parsed.policySet, req);
      assert.deepEqual(after, before, `${req.request.method} ${req.request.path}`);
      outcomes.add(`${before.outcome}/${before.decidedBy.kind}`);
    }
    // The table exercises allows, denies by rule, by no matching rule, and refusals.
    assert.ok(outcomes.has('allow/policy'));
    assert.ok(outcomes.has('deny/policy'));
    assert.ok(outcomes.has('deny/no-allow-match'));
    assert.ok(outcomes.has('deny/request'));
  });

  it('defaults a missing external marker to false (older servers)', () => {
    const doc = JSON.parse(serializeAuthzSnapshot(snapshot)) as {
      policySet: { policies: Record<string, unknown>[] };
    };
    for (const p of doc.policySet.policies) delete p['external'];
    const parsed = parseAuthzSnapshot(JSON.stringify(doc));
    assert.ok(parsed.policySet.policies.every((p) => !p.external));
  });

  const rejects = (mutate: (doc: Record<string, unknown>) => unknown, message: RegExp) => {
    const doc = JSON.parse(serializeAuthzSnapshot(snapshot)) as Record<string, unknown>;
    const out = mutate(doc) ?? doc;
    assert.throws(
      () => parseAuthzSnapshot(typeof out === 'string' ? out : JSON.stringify(out)),
      (err: unknown) => isParleyError(err, 'invalid-argument') && message.test(err.message),
    );
  };
  type Doc = {
    policySet: { policies: { rules: { when: Record<string, unknown>[] }[] }[]; roles: unknown[] };
    workloads: Record<string, unknown>[];
  };

  it('rejects text that is not strict JSON, with the offset', () => {
    rejects(() => '{"version": "a", "version": "b"}', /authz snapshot: invalid JSON at offset/);
    rejects(() => '[', /invalid JSON/);
  });

  it('rejects a snapshot over the size bound before parsing it', () => {
    rejects(() => ' '.repeat(MAX_AUTHZ_SNAPSHOT_LENGTH + 1), /exceeds 16777216 characters/);
  });

  it('rejects unknown fields, naming their path', () => {
    rejects((d) => {
      (d as unknown as Doc).policySet.policies[1]!.rules[1]!.when.push({ kind: 'header', x: 1 });
    }, /policySet\.policies\[1\]\.rules\[1\]\.when\[0\]\.x: unknown field/);
    rejects((d) => ({ ...d, extra: true }), /extra: unknown field/);
  });

  it('rejects wrong types and values out of range', () => {
    rejects((d) => ({ ...d, version: '' }), /version: must not be empty/);
    rejects((d) => ({ ...d, format: 2 }), /format: must be between 1 and 1/);
    rejects((d) => {
      (d as unknown as Doc).workloads[0]!['ports'] = [70000];
    }, /workloads\[0\]\.ports\[0\]: must be between 0 and 65535/);
    rejects((d) => {
      (d as unknown as Doc).workloads[0]!['ports'] = [1.5];
    }, /expected an integer/);
    rejects((d) => {
      (d as unknown as Doc).workloads[0]!['attributes'] = { owner: 'x' };
    }, /attributes\.owner: unknown field/);
    rejects((d) => {
      const p = (d as unknown as Doc).policySet.policies[0] as Record<string, unknown>;
      p['action'] = 'PERMIT';
    }, /action: must be one of ALLOW, DENY, AUDIT/);
    rejects((d) => {
      const w = (d as unknown as Doc).policySet.policies[1]!.rules[3]!.when;
      w[1] = {
        kind: 'sourceIp',
        values: [{ bytes: [1, 2, 3], prefixLength: 8, text: 'x' }],
        notValues: [],
      };
    }, /bytes: must hold 4 or 16 bytes/);
    rejects((d) => {
      const w = (d as unknown as Doc).policySet.policies[1]!.rules[3]!.when;
      w[3] = { kind: 'expression', text: 'x', expression: { op: 'call', name: 'size' } };
    }, /expression\.op: must be one of/);
  });

  it('rejects duplicate workloads and roles', () => {
    rejects((d) => {
      const w = (d as unknown as Doc).workloads;
      w.push(w[0]!);
    }, /workloads\[3\]\.spiffeId: duplicate workload/);
    rejects((d) => {
      const r = (d as unknown as Doc).policySet.roles;
      r.push(r[0]);
    }, /roles\[1\]\.name: duplicate role "reader"/);
  });

  it('rejects nesting deeper than its bound', () => {
    let e: unknown = { op: 'literal', value: true };
    for (let i = 0; i < 200; i++) e = { op: 'not', arg: e };
    rejects((d) => {
      (d as unknown as Doc).policySet.policies[1]!.rules[3]!.when[3] = {
        kind: 'expression',
        text: 'deep',
        expression: e,
      };
    }, /invalid JSON at offset \d+: nesting deeper than 160/);
  });
});

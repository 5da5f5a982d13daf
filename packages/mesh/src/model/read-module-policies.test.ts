import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatMeshProblem } from './mesh-problem.js';
import { parseMeshConfig } from './parse-mesh-config.js';

// The example of docs/secrets.md (the shared plan's SecretPolicy document).
const ORDERS_DB = `apiVersion: parley.dev/v1
kind: SecretPolicy
metadata: { name: orders-db }
spec:
  rules:
    - principals: [spiffe://example.org/orders]
      paths: [app/orders/**]
      capabilities: [read, list]
    - name: no-admin
      effect: deny
      principals: ["*"]
      paths: [app/orders/admin/**]
      capabilities: [read, write, list, delete, destroy]
`;

describe('readSecretPolicy', () => {
  it('reads a SecretPolicy document of the mesh repository', () => {
    const r = parseMeshConfig([{ path: 'secrets/orders.yaml', text: ORDERS_DB }]);
    assert.ok(r.ok, r.ok ? '' : r.problems.map(formatMeshProblem).join('\n'));
    const [doc] = r.config.secretPolicies;
    assert.deepEqual(doc?.source, { file: 'secrets/orders.yaml', line: 2 });
    assert.equal(doc.policy.name, 'orders-db');
    assert.equal(doc.policy.origin, 'mesh');
    assert.deepEqual(
      doc.policy.rules.map((rule) => [rule.name, rule.effect, rule.capabilities.length]),
      [
        ['rule-0', 'allow', 2],
        ['no-admin', 'deny', 5],
      ],
    );
  });

  it('reports a bad rule at file:line with its field path', () => {
    const text = `apiVersion: parley.dev/v1
kind: SecretPolicy
metadata: { name: bad }
spec:
  rules:
    - principals: [spiffe://example.org/orders, "spiffe://example.org/a*"]
      paths: [app/../admin]
      capabilities: [read, sudo]
      effect: maybe
      when: []
`;
    const r = parseMeshConfig([{ path: 'x.yaml', text }]);
    assert.equal(r.ok, false);
    const problems = r.ok ? [] : r.problems.map(formatMeshProblem);
    assert.deepEqual(
      problems.map((p) => p.replace(/(: [^:]+): .*/s, '$1')),
      [
        'x.yaml:6: spec.rules[0].principals[1]',
        'x.yaml:7: spec.rules[0].paths[0]',
        'x.yaml:8: spec.rules[0].capabilities[1]',
        'x.yaml:9: spec.rules[0].effect',
        'x.yaml:10: spec.rules[0].when',
      ],
    );
    assert.match(problems[1] ?? '', /"\.\." segment/);
    assert.match(problems[2] ?? '', /must be one of read, write, list, delete, destroy/);
    assert.match(problems[4] ?? '', /unknown field/);
  });

  it('reports two SecretPolicies with the same name', () => {
    const r = parseMeshConfig([
      { path: 'a.yaml', text: ORDERS_DB },
      { path: 'b.yaml', text: ORDERS_DB },
    ]);
    assert.equal(r.ok, false);
    assert.equal(r.ok ? 0 : r.problems.length, 1);
  });
});

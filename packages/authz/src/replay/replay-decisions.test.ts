import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authzSnapshot } from '../model/authz-snapshot.js';
import { buildPolicySet } from '../model/build-policy-set.js';
import type { DecisionRecord } from '../model/decision-record.js';
import type {
  Condition,
  Operation,
  PolicyDocument,
  PolicySet,
  Rule,
  StringPattern,
} from '../model/policy.js';
import {
  type ReplayPolicies,
  type ResolveWorkload,
  diffDecisions,
  isReplayable,
  replayDecisions,
  resolveWorkloads,
} from './replay-decisions.js';

// Policies as the mesh parser would produce them (see evaluate-request.test.ts).
const sp = (text: string): StringPattern =>
  text.endsWith('*')
    ? { kind: 'prefix', value: text.slice(0, -1), text }
    : { kind: 'exact', value: text, text };
const to = (o: { methods?: string[]; paths?: string[] }): Operation => ({
  hosts: [],
  notHosts: [],
  methods: o.methods ?? [],
  notMethods: [],
  paths: (o.paths ?? []).map(sp),
  notPaths: [],
  ports: [],
  notPorts: [],
  ignoreCase: false,
});
const rule = (name: string, r: Partial<Omit<Rule, 'name'>>): Rule => ({
  name,
  from: r.from ?? [],
  to: r.to ?? [],
  roles: r.roles ?? [],
  when: r.when ?? [],
});
const fromPrincipals = (...ids: string[]) => [
  { principals: ids.map(sp), notPrincipals: [], trustDomains: [], notTrustDomains: [] },
];
const policy = (
  name: string,
  action: PolicyDocument['action'],
  rules: Rule[],
  services = ['backend'],
): PolicyDocument => ({
  metadata: { name },
  selector: { services, spiffeIds: [] },
  action,
  rules,
  dryRun: false,
  roles: [],
});
const denyByDefault: PolicyDocument = {
  metadata: { name: 'mesh' },
  action: 'ALLOW',
  rules: [],
  dryRun: false,
  roles: [],
  defaultAction: 'DENY',
};
const set = (...docs: PolicyDocument[]): PolicySet => buildPolicySet([denyByDefault, ...docs]);

const TD = 'spiffe://example.org';
const FRONTEND = `${TD}/frontend`;
const BACKEND = `${TD}/backend`;
const OPS = `${TD}/ops`;
const T0 = Date.UTC(2026, 0, 5, 10, 0); // a Monday, 10:00 UTC

type Rec = DecisionRecord & { readonly seq: number };

let seq = 0;
function record(r: {
  source?: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  outcome?: 'allow' | 'deny';
  policy?: string;
  rule?: string;
  enforcedBy?: DecisionRecord['enforcedBy'];
  at?: number;
}): Rec {
  seq++;
  return {
    seq,
    at: r.at ?? T0,
    requestId: `req-${seq}`,
    enforcedBy: r.enforcedBy ?? 'ext_authz',
    source: { principal: r.source ?? FRONTEND, address: '10.0.0.1' },
    destination: { service: 'backend', principal: BACKEND, port: 9090 },
    request: {
      method: r.method ?? 'GET',
      host: 'backend',
      path: r.path ?? '/api/items',
      headers: r.headers ?? {},
    },
    outcome: r.outcome ?? 'allow',
    ...(r.policy !== undefined && { policy: r.policy }),
    ...(r.rule !== undefined && { rule: r.rule }),
    why: 'recorded',
  };
}

const frontendApi = policy('backend-allow', 'ALLOW', [
  rule('frontend-api', {
    from: fromPrincipals(FRONTEND),
    to: [to({ methods: ['GET'], paths: ['/api/*'] })],
  }),
]);
const WORKLOADS = authzSnapshot('v1', set(), [
  { service: 'frontend', spiffeId: FRONTEND, ports: [8080], attributes: { team: 'shop' } },
  {
    service: 'backend',
    spiffeId: BACKEND,
    ports: [9090],
    attributes: { team: 'shop', environment: 'prod' },
  },
  { service: 'ops', spiffeId: OPS, ports: [80], attributes: { team: 'ops' } },
]).workloads;
const resolve = resolveWorkloads(WORKLOADS);
const side = (policySet: PolicySet, r: ResolveWorkload = resolve): ReplayPolicies => ({
  policySet,
  resolve: r,
});

describe('replayDecisions', () => {
  it('decides each recorded request again, keeping the record (and its extra fields)', () => {
    const records = [
      record({ path: '/api/items' }),
      record({ path: '/admin', outcome: 'deny' }),
      record({ source: OPS }),
    ];
    const out = replayDecisions(records, set(frontendApi), resolve);
    assert.deepEqual(
      out.map((r) => [r.record.seq, r.decision.outcome, r.decision.decidedBy.kind]),
      [
        [records[0]?.seq, 'allow', 'policy'],
        [records[1]?.seq, 'deny', 'no-allow-match'],
        [records[2]?.seq, 'deny', 'no-allow-match'],
      ],
    );
    assert.equal(out[0]?.record, records[0]);
  });

  it('resolves both sides to their Services and attributes (ABAC) and decides at the recorded time', () => {
    const sameTeam: Condition = {
      kind: 'attribute',
      of: 'source',
      name: 'team',
      values: ['shop'],
      notValues: [],
    };
    const officeHours: Condition = {
      kind: 'time',
      days: [1, 2, 3, 4, 5],
      start: 9 * 60,
      end: 17 * 60,
    };
    const abac = set(
      policy('backend-abac', 'ALLOW', [rule('team-hours', { when: [sameTeam, officeHours] })]),
    );
    const night = T0 + 12 * 3_600_000; // 22:00 UTC
    const out = replayDecisions(
      [record({}), record({ source: OPS }), record({ at: night })],
      abac,
      resolve,
    );
    assert.deepEqual(
      out.map((r) => r.decision.outcome),
      ['allow', 'deny', 'deny'],
    );
    // Unknown to the resolver: no attributes, and the recorded destination Service still selects.
    const nobody = replayDecisions([record({})], abac, () => ({}));
    assert.equal(nobody[0]?.decision.outcome, 'deny');
    assert.match(nobody[0]?.decision.why ?? '', /ALLOW/);
  });
});

describe('diffDecisions between two policy sets', () => {
  const records = [
    record({ path: '/api/items' }),
    record({ path: '/api/admin/users' }),
    record({ method: 'POST', path: '/api/items', outcome: 'deny' }),
    record({ source: OPS, path: '/api/items', outcome: 'deny' }),
    record({ path: '/api/items', enforcedBy: 'jwt', outcome: 'deny' }),
    record({ path: '/a/%2Fb', enforcedBy: 'envoy', outcome: 'deny' }),
  ];

  it('lists the calls whose outcome changes, with before and after', () => {
    const lockdown = policy('backend-deny', 'DENY', [
      rule('admin', { to: [to({ paths: ['/api/admin/*'] })] }),
    ]);
    const opsRead = policy('backend-ops', 'ALLOW', [
      rule('ops-read', { from: fromPrincipals(OPS) }),
    ]);
    const diff = diffDecisions(
      records,
      side(set(frontendApi)),
      side(set(frontendApi, lockdown, opsRead)),
    );
    assert.equal(diff.replayed, 4);
    assert.equal(diff.skipped, 2);
    assert.deepEqual(
      diff.changes.map((c) => [
        c.record.seq,
        c.before.outcome,
        c.after.outcome,
        c.after.policy,
        c.after.rule,
      ]),
      [
        [records[1]?.seq, 'allow', 'deny', 'backend-deny', 'admin'],
        [records[3]?.seq, 'deny', 'allow', 'backend-ops', 'ops-read'],
      ],
    );
    const first = diff.changes[0];
    assert.deepEqual([first?.before.policy, first?.before.rule], ['backend-allow', 'frontend-api']);
    assert.match(first?.after.why ?? '', /backend-deny/);
    assert.equal(first?.record, records[1]);
  });

  it('lists a call decided the same way by another rule; nothing for an identical set', () => {
    const renamed = policy('backend-allow', 'ALLOW', [
      rule('frontend-reads', {
        from: fromPrincipals(FRONTEND),
        to: [to({ methods: ['GET'], paths: ['/api/*'] })],
      }),
    ]);
    const diff = diffDecisions(records, side(set(frontendApi)), side(set(renamed)));
    assert.deepEqual(
      diff.changes.map((c) => [c.record.seq, c.before.rule, c.after.rule, c.after.outcome]),
      [
        [records[0]?.seq, 'frontend-api', 'frontend-reads', 'allow'],
        [records[1]?.seq, 'frontend-api', 'frontend-reads', 'allow'],
      ],
    );
    assert.deepEqual(
      diffDecisions(records, side(set(frontendApi)), side(set(frontendApi))).changes,
      [],
    );
    assert.deepEqual(diffDecisions([], side(set()), side(set(frontendApi))), {
      replayed: 0,
      skipped: 0,
      changes: [],
    });
  });

  it('takes the Services and attributes of each side from that side', () => {
    const sameTeam = set(
      policy('backend-team', 'ALLOW', [
        rule('same-team', {
          when: [
            { kind: 'attribute', of: 'source', name: 'team', values: ['shop'], notValues: [] },
          ],
        }),
      ]),
    );
    const reorg: ResolveWorkload = (p) =>
      p === FRONTEND ? { service: 'frontend', attributes: { team: 'web' } } : resolve(p);
    const diff = diffDecisions([record({})], side(sameTeam), side(sameTeam, reorg));
    assert.deepEqual(
      diff.changes.map((c) => [c.before.outcome, c.after.outcome]),
      [['allow', 'deny']],
    );
  });
});

describe('diffDecisions from what was recorded', () => {
  it('compares the outcome always, and the policy and rule only where the record names them', () => {
    const records = [
      // A sampled RBAC allow names no rule: allowed again by a rule, unchanged.
      record({ enforcedBy: 'rbac', outcome: 'allow' }),
      // RBAC's default deny ("none"): denied again by no-allow-match, unchanged.
      record({ enforcedBy: 'rbac', method: 'POST', outcome: 'deny' }),
      // Decided by the same policy and rule: unchanged.
      record({ outcome: 'allow', policy: 'backend-allow', rule: 'frontend-api' }),
      // Same outcome, another rule: changed.
      record({ outcome: 'allow', policy: 'backend-allow', rule: 'old-rule' }),
      // RBAC names a policy without a rule: the policy is compared.
      record({ enforcedBy: 'rbac', outcome: 'allow', policy: 'backend-allow' }),
      // Outcome flips: changed.
      record({ path: '/other', outcome: 'allow', policy: 'legacy', rule: 'all' }),
      // Not replayable: skipped.
      record({ enforcedBy: 'jwt', outcome: 'deny' }),
    ];
    const diff = diffDecisions(records, 'recorded', side(set(frontendApi)));
    assert.equal(diff.replayed, 6);
    assert.equal(diff.skipped, 1);
    assert.deepEqual(
      diff.changes.map((c) => [c.record.seq, c.before, c.after.outcome, c.after.rule ?? null]),
      [
        [
          records[3]?.seq,
          { outcome: 'allow', policy: 'backend-allow', rule: 'old-rule', why: 'recorded' },
          'allow',
          'frontend-api',
        ],
        [
          records[5]?.seq,
          { outcome: 'allow', policy: 'legacy', rule: 'all', why: 'recorded' },
          'deny',
          null,
        ],
      ],
    );
  });
});

describe('isReplayable and resolveWorkloads', () => {
  it('replays only what the policies decided, and resolves known workloads only', () => {
    assert.deepEqual(
      (['rbac', 'ext_authz', 'jwt', 'envoy'] as const).map((e) =>
        isReplayable(record({ enforcedBy: e })),
      ),
      [true, true, false, false],
    );
    assert.deepEqual(resolve(OPS), { service: 'ops', attributes: { team: 'ops' } });
    assert.deepEqual(resolve(`${TD}/stranger`), {});
  });
});

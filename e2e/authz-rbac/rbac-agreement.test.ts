import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type AuthzRequest,
  type Decision,
  type EnforcementTarget,
  type PolicySet,
  RBAC_STAT_PREFIX,
  buildPolicySet,
  compileEnforcement,
  evaluateRequest,
} from '@parley/authz';
import { encodePem } from '@parley/core';
import { formatMeshProblem, parseMeshConfig } from '@parley/mesh';
import { type Envoy, type TempDir, freePorts, makeTestCa, makeTempDir } from '@parley/testing';
import {
  CASES,
  CLIENTS,
  type Case,
  type Client,
  type ListenerName,
  mainMesh,
  plainMesh,
} from './rbac-cases.js';
import {
  type LogEntry,
  type RawResponse,
  readAccessLog,
  sendRaw,
  startRbacEnvoy,
} from './rbac-harness.js';

const TIME = new Date('2026-06-01T12:00:00Z');

function policySet(files: { path: string; text: string }[]): PolicySet {
  const parsed = parseMeshConfig(files);
  if (!parsed.ok) assert.fail(parsed.problems.map(formatMeshProblem).join('\n'));
  return buildPolicySet(parsed.config.authorizationPolicies);
}

interface Workload {
  readonly set: PolicySet;
  readonly target: EnforcementTarget;
  readonly port: number;
}

interface Outcome {
  readonly row: string;
  readonly response: RawResponse;
  /** What Envoy's filters saw and decided; absent when Envoy refused the request before them. */
  readonly log?: LogEntry;
  readonly raw: Decision;
  /** The evaluator on the path and authority Envoy forwarded, when the filters saw the request. */
  readonly forwarded?: Decision;
}

/** The first value of a response header. */
const header = (r: RawResponse, name: string): string | undefined => r.headers.get(name)?.[0];

/** What a request looks like to the evaluator (headers as Envoy's filters see them). */
function authzRequest(c: Case, w: Workload, host: string, path: string): AuthzRequest {
  const headers: Record<string, string[]> = {};
  for (const [name, value] of c.headers ?? []) {
    // HTTP/1.1 drops the optional whitespace around a field value.
    (headers[name.toLowerCase()] ??= []).push(value.replace(/^[ \t]+|[ \t]+$/g, ''));
  }
  const ports = w.target.ports ?? [];
  return {
    source: { principal: CLIENTS[c.client], address: c.localAddress ?? '127.0.0.1' },
    destination: {
      service: w.target.service,
      principal: w.target.spiffeId,
      port: ports.includes(w.port) ? w.port : (ports[0] ?? w.port),
    },
    request: {
      method: c.method ?? 'GET',
      host,
      path,
      headers,
    },
    time: TIME,
  };
}

describe('native RBAC enforcement agrees with the evaluator (real Envoy)', () => {
  let temp: TempDir;
  let envoy: Envoy;
  let workloads: Record<ListenerName, Workload>;
  let credentials: Record<Client, { cert: string; key: string }>;
  let trustedCa: string;
  const outcomes: Outcome[] = [];
  let shadowDenied = 0;

  before(async () => {
    temp = await makeTempDir('parley-rbac-');
    const [backendPort, metricsPort, vaultPort, plainPort] = (await freePorts(4)) as [
      number,
      number,
      number,
      number,
    ];
    const main = policySet(mainMesh(metricsPort));
    const plain = policySet(plainMesh(metricsPort));
    const backend = {
      service: 'backend',
      spiffeId: 'spiffe://example.org/backend',
      ports: [80, metricsPort],
    };
    workloads = {
      backend: { set: main, target: backend, port: backendPort },
      'backend-metrics': { set: main, target: backend, port: metricsPort },
      vault: {
        set: main,
        target: { service: 'vault', spiffeId: 'spiffe://example.org/vault', ports: [80] },
        port: vaultPort,
      },
      plain: {
        set: plain,
        target: { service: 'plain', spiffeId: 'spiffe://example.org/plain', ports: [80] },
        port: plainPort,
      },
    };
    const cas = {
      'example.org': await makeTestCa(),
      'other.org': await makeTestCa({ trustDomain: 'other.org' }),
    };
    trustedCa = Object.values(cas)
      .map((ca) => encodePem('CERTIFICATE', ca.root.raw))
      .join('');
    const pem = async (id: string) => {
      const ca = id.startsWith('spiffe://other.org/') ? cas['other.org'] : cas['example.org'];
      const svid = await ca.mintSvid(id);
      return {
        cert: encodePem('CERTIFICATE', svid.der),
        key: svid.key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      };
    };
    credentials = Object.fromEntries(
      await Promise.all(
        Object.entries(CLIENTS).map(async ([name, id]) => [name, await pem(id)] as const),
      ),
    ) as Record<Client, { cert: string; key: string }>;
    const server = await pem('spiffe://example.org/backend');
    envoy = await startRbacEnvoy({
      dir: temp.path,
      serverCert: server.cert,
      serverKey: server.key,
      trustedCa,
      listeners: Object.entries(workloads).map(([name, w]) => {
        const enforcement = compileEnforcement(w.set, w.target);
        assert.equal(enforcement.mode, 'native', `${name}: ${JSON.stringify(enforcement)}`);
        return {
          name,
          port: w.port,
          filters: enforcement.mode === 'native' ? enforcement.filters : [],
        };
      }),
    });

    // Every row once, a few at a time; the assertions below read the outcomes.
    const responses: RawResponse[] = [];
    const hostsOf: string[] = [];
    const queue = CASES.map((c, i) => [c, i] as const);
    const run = async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const [c, i] = next;
        const w = workloads[c.listener];
        const hosts =
          c.host === undefined ? ['backend'] : typeof c.host === 'string' ? [c.host] : c.host;
        const lines = [
          `${c.method ?? 'GET'} ${c.path} HTTP/1.1`,
          ...hosts.map((h) => `Host: ${h}`),
          ...(c.headers ?? []).map(([n, v]) => `${n}: ${v}`),
          'Connection: close',
        ];
        const response = await sendRaw({
          port: w.port,
          ...credentials[c.client],
          ca: trustedCa,
          ...(c.localAddress !== undefined && { localAddress: c.localAddress }),
          request: `${lines.join('\r\n')}\r\n\r\n`,
        });
        responses[i] = response;
        hostsOf[i] = hosts.join(',');
      }
    };
    await Promise.all(Array.from({ length: 8 }, run));
    const stats = await envoy.admin(
      `/stats?filter=${encodeURIComponent('^http\\.backend\\.rbac\\.parley_deny_\\.shadow_denied$')}`,
    );
    shadowDenied = Number(/: (\d+)/.exec(stats)?.[1] ?? 0);
    await envoy.stop(); // writes the access log out
    const log = await readAccessLog(temp.path);
    CASES.forEach((c, i) => {
      const w = workloads[c.listener];
      const response = responses[i] as RawResponse;
      const id = header(response, 'x-request-id');
      const entry = id === undefined ? undefined : log.get(id);
      const forwarded =
        entry === undefined || entry.path === '-' || entry.authority === '-'
          ? undefined
          : evaluateRequest(w.set, authzRequest(c, w, entry.authority, entry.path));
      outcomes[i] = {
        row: `#${i} ${c.listener} ${c.client} ${c.method ?? 'GET'} ${JSON.stringify(c.path)} host=${JSON.stringify(hostsOf[i])} headers=${JSON.stringify(c.headers ?? [])}`,
        response,
        ...(entry !== undefined && { log: entry }),
        raw: evaluateRequest(w.set, authzRequest(c, w, hostsOf[i] as string, c.path)),
        ...(forwarded !== undefined && { forwarded }),
      };
    });
  });

  after(async () => {
    await envoy?.stop();
    await temp?.remove();
  });

  it(`decides all ${CASES.length} requests as the evaluator does`, () => {
    const problems: string[] = [];
    CASES.forEach((c, i) => {
      const o = outcomes[i] as Outcome;
      const status = o.response.status;
      const envoySays =
        status >= 200 && status < 300
          ? 'allow'
          : status === 403 || status === 400
            ? 'deny'
            : `status ${status}`;
      const evaluatorSays = c.rewritten
        ? (o.forwarded ?? o.raw).outcome
        : c.envoyRefuses
          ? 'deny'
          : o.raw.outcome;
      if (envoySays !== c.expect || evaluatorSays !== c.expect) {
        problems.push(
          `${o.row}: expected ${c.expect}, Envoy ${envoySays} (${o.log?.details ?? '-'}), evaluator ${evaluatorSays} (${o.raw.why})`,
        );
      }
      if (c.rewritten && o.raw.outcome !== 'deny') {
        problems.push(`${o.row}: the evaluator should refuse the raw request`);
      }
      if (c.envoyRefuses && status !== 400) problems.push(`${o.row}: Envoy should answer 400`);
      if (!c.envoyRefuses && o.forwarded !== undefined && o.forwarded.outcome !== envoySays) {
        problems.push(
          `${o.row}: on what Envoy forwarded the evaluator says ${o.forwarded.outcome} (${o.forwarded.why})`,
        );
      }
    });
    assert.deepEqual(problems, []);
  });

  it('names the deciding rule and carries the request id on every deny', () => {
    const problems: string[] = [];
    CASES.forEach((_, i) => {
      const o = outcomes[i] as Outcome;
      if (o.response.status !== 403) return;
      if (header(o.response, 'x-request-id') === undefined)
        problems.push(`${o.row}: no x-request-id`);
      const details = o.log?.details ?? '';
      const matched = /^rbac_access_denied_matched_policy\[(.*)\]$/.exec(details)?.[1];
      const by = (o.forwarded ?? o.raw).decidedBy;
      const want =
        by.kind === 'policy'
          ? `${by.policy}/${by.rule}`
          : by.kind === 'request'
            ? 'parley/request/'
            : 'none';
      if (matched === undefined || !matched.startsWith(want)) {
        problems.push(`${o.row}: Envoy's deciding policy ${details}, the evaluator's ${want}`);
      }
    });
    assert.deepEqual(problems, []);
  });

  it('reports dry-run and AUDIT outcomes as the evaluator does, without enforcing them', () => {
    const problems: string[] = [];
    CASES.forEach((c, i) => {
      const o = outcomes[i] as Outcome;
      const d = o.forwarded ?? o.raw;
      if (c.dryRun !== undefined && d.dryRun?.outcome !== c.dryRun) {
        problems.push(
          `${o.row}: the evaluator's dry-run ${d.dryRun?.outcome ?? 'none'}, expected ${c.dryRun}`,
        );
      }
      if (o.log === undefined || d.decidedBy.kind === 'request') return;
      const md = o.log.rbac;
      const shadows = [RBAC_STAT_PREFIX.deny, RBAC_STAT_PREFIX.allow]
        .map((p) => md[`${p}shadow_engine_result`])
        .filter((r) => r !== undefined);
      const wouldDeny = shadows.includes('denied') ? 'deny' : 'allow';
      if (d.dryRun !== undefined && (shadows.length === 0 || wouldDeny !== d.dryRun.outcome)) {
        problems.push(
          `${o.row}: shadow rules say ${wouldDeny} (${JSON.stringify(md)}), the evaluator's dry-run ${d.dryRun.outcome}`,
        );
      }
      if (d.dryRun === undefined && shadows.length > 0)
        problems.push(`${o.row}: unexpected shadow rules`);
      const audit = md[`${RBAC_STAT_PREFIX.audit}enforced_effective_policy_id`];
      const audited = d.audit.map((a) => `${a.policy}/${a.rule}`);
      if (
        (audit === undefined) !== (audited.length === 0) ||
        (audit !== undefined && !audited.includes(audit))
      ) {
        problems.push(
          `${o.row}: Envoy audits ${audit ?? 'nothing'}, the evaluator ${audited.join(', ') || 'nothing'}`,
        );
      }
    });
    assert.deepEqual(problems, []);
    assert.ok(shadowDenied > 0, 'Envoy counted no shadow denial');
  });
});

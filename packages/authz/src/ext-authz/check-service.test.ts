import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type Client,
  type ServiceError,
  Server,
  ServerCredentials,
  credentials,
} from '@grpc/grpc-js';
import { type ProtoObject, checkMessage, loadXdsServices } from '@parley/api';
import { type Clock, fixedClock } from '@parley/core';
import { type TempDir, makeTempDir } from '@parley/testing';
import type { AuthzSnapshot } from '../model/authz-snapshot.js';
import type { DecisionRecord } from '../model/decision-record.js';
import { type CheckServiceDeps, createCheckService } from './check-service.js';
import {
  BACKEND,
  FRONTEND,
  TD,
  type TestCheck,
  checkRequest,
  protoValue,
  testSnapshot,
} from './ext-authz-test-fixtures.js';

const NOW = Date.parse('2026-03-03T10:00:00Z');
const clock: Clock = fixedClock(NOW);

interface CheckResponse {
  status: { code: number; message: string };
  http_response: 'ok_response' | 'denied_response';
  ok_response?: ProtoObject;
  denied_response?: {
    status: { code: string };
    headers: { header: { key: string; value: string } }[];
    body: string;
  };
  dynamic_metadata: { fields: Record<string, { stringValue?: string; boolValue?: boolean }> };
}

interface AuthorizationClient extends Client {
  Check(
    request: unknown,
    callback: (err: ServiceError | null, response?: CheckResponse) => void,
  ): void;
}

/** A Check server on a Unix socket with deps the test can change, and a client of it. */
class Harness {
  snapshot: AuthzSnapshot | undefined = testSnapshot();
  records: DecisionRecord[] = [];
  #server: Server | undefined;
  #client: AuthorizationClient | undefined;

  constructor(private readonly dir: TempDir) {}

  async start(overrides: Partial<CheckServiceDeps> = {}): Promise<void> {
    await this.stop();
    this.records = [];
    const socket = join(this.dir.path, `authz-${Math.random().toString(36).slice(2)}.sock`);
    const server = new Server();
    const { Authorization } = loadXdsServices();
    server.addService(
      Authorization.service,
      createCheckService({
        snapshot: () => this.snapshot,
        clock,
        onDecision: (r) => this.records.push(r),
        ...overrides,
      }),
    );
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    this.#server = server;
    this.#client = new Authorization(
      `unix://${socket}`,
      credentials.createInsecure(),
    ) as unknown as AuthorizationClient;
  }

  check(t: TestCheck | Record<string, unknown> = {}, raw = false): Promise<CheckResponse> {
    const client = this.#client;
    assert.ok(client !== undefined);
    const request = raw ? t : checkRequest(t);
    return new Promise((resolve, reject) => {
      client.Check(request, (err, response) =>
        err !== null || response === undefined
          ? reject(err ?? new Error('no response'))
          : resolve(response),
      );
    });
  }

  async stop(): Promise<void> {
    this.#client?.close();
    this.#server?.forceShutdown();
    this.#client = undefined;
    this.#server = undefined;
  }
}

const meta = (r: CheckResponse): Record<string, string | boolean | undefined> =>
  Object.fromEntries(
    Object.entries(r.dynamic_metadata.fields).map(([k, v]) => [k, v.stringValue ?? v.boolValue]),
  );

function assertAllowed(r: CheckResponse): void {
  assert.equal(r.status.code, 0, `expected allow, got ${JSON.stringify(meta(r))}`);
  assert.equal(r.http_response, 'ok_response');
}

function assertDenied(r: CheckResponse, requestId = 'req-1'): void {
  assert.equal(r.status.code, 7, `expected deny, got ${JSON.stringify(meta(r))}`);
  assert.equal(r.http_response, 'denied_response');
  const denied = r.denied_response;
  assert.ok(denied !== undefined);
  assert.equal(denied.status.code, 'Forbidden');
  assert.deepEqual(
    denied.headers.map((h) => [h.header.key, h.header.value]),
    [
      ['x-request-id', requestId],
      ['content-type', 'text/plain'],
    ],
  );
  assert.equal(denied.body, `RBAC: access denied (request id ${requestId})\n`);
}

describe('createCheckService (Authorization/Check over grpc-js)', () => {
  let dir: TempDir;
  let h: Harness;

  before(async () => {
    dir = await makeTempDir('parley-ext-authz-');
    h = new Harness(dir);
    await h.start();
  });

  after(async () => {
    await h.stop();
    await dir.remove();
  });

  it('allows what an ALLOW rule matches, with the decision in dynamic metadata', async () => {
    const r = await h.check({ path: '/api/items?page=2' });
    assertAllowed(r);
    assert.deepEqual(meta(r), {
      outcome: 'allow',
      policy: 'backend-allow',
      rule: 'frontend-api',
      why: 'ALLOW policy "backend-allow" rule "frontend-api" matches',
      version: 'commit-1',
      // The dry-run DENY of POST applies to the workload and would not change this GET.
      dryRun: 'allow',
      dryRunPolicy: 'backend-allow',
      dryRunRule: 'frontend-api',
    });
  });

  it('denies with a 403 that carries the request id and nothing about the policies', async () => {
    const r = await h.check({ path: '/other', requestId: 'rid-42' });
    assertDenied(r, 'rid-42');
    assert.equal(meta(r)['outcome'], 'deny');
    assert.match(String(meta(r)['why']), /no ALLOW rule matches; closest/);
    assert.doesNotMatch(r.denied_response?.body ?? '', /backend|policy|rule|ALLOW/);
  });

  it('lets a matching DENY beat an ALLOW', async () => {
    const r = await h.check({ path: '/api/x', headers: [['x-role', 'guest']] });
    assertDenied(r);
    assert.equal(meta(r)['policy'], 'backend-deny');
    assert.equal(meta(r)['rule'], 'guests');
  });

  it('sees a repeated header in every value (raw header_map) and in the legacy joined map', async () => {
    assertAllowed(await h.check({ headers: [['x-role', 'reader']] }));
    assertDenied(
      await h.check({
        headers: [
          ['x-role', 'reader'],
          ['x-role', 'guest'],
        ],
      }),
    );
    assertDenied(
      await h.check({ headerMap: { 'x-role': 'reader,guest', 'x-request-id': 'req-1' } }),
    );
  });

  it('decides on end-user claims from the JWT filter metadata', async () => {
    const admins = protoValue({ sub: 'alice', group: 'admins' });
    const users = protoValue({ sub: 'bob', group: 'users' });
    const nobody = `${TD}/unknown-caller`;
    assertAllowed(await h.check({ source: nobody, path: '/claims/x', payload: admins }));
    assertDenied(await h.check({ source: nobody, path: '/claims/x', payload: users }));
    assertDenied(await h.check({ source: nobody, path: '/claims/x' }));
  });

  it('reads the sidecar inbound port as the Service port', async () => {
    assertAllowed(await h.check({ source: `${TD}/x`, path: '/port/a', port: 15006 }));
    assertAllowed(await h.check({ source: `${TD}/x`, path: '/port/a', port: 8080 }));
  });

  it('denies ambiguous paths before any policy', async () => {
    for (const path of ['/api/%2Fadmin', '/api\\x', '/api/x;y']) {
      const r = await h.check({ path });
      assertDenied(r);
      assert.match(String(meta(r)['why']), /^refused before any policy/);
    }
    assertDenied(await h.check({ path: '//admin/x' }));
  });

  it('fails closed: no snapshot, unknown destination, malformed request', async () => {
    h.snapshot = undefined;
    try {
      const r = await h.check();
      assertDenied(r);
      assert.equal(meta(r)['why'], 'refused before any policy: no policy snapshot is loaded yet');
      assert.equal(meta(r)['version'], '');
    } finally {
      h.snapshot = testSnapshot();
    }
    const unknown = await h.check({ destination: `${TD}/ghost` });
    assertDenied(unknown);
    assert.match(String(meta(unknown)['why']), /ghost is not a workload of the mesh/);
    const empty = await h.check({}, true);
    assertDenied(empty, '-');
    assert.match(String(meta(empty)['why']), /no attributes.request.http/);
    assertDenied(await h.check({ headers: [['x-bin', Buffer.from([0xc3, 0x28])]] }));
  });

  it('denies when deciding throws, and logs why', async () => {
    const logged: string[] = [];
    await h.start({
      snapshot: () => {
        throw new Error('boom');
      },
      log: (m, f) => logged.push(`${m} ${String(f['error'])}`),
    });
    try {
      const r = await h.check();
      assertDenied(r);
      assert.equal(meta(r)['why'], 'internal error');
      assert.deepEqual(logged, ['ext_authz: internal error; denying boom']);
    } finally {
      await h.start();
    }
  });

  it('answers messages that match the CheckResponse schema', async () => {
    const service = createCheckService({ snapshot: () => testSnapshot(), clock });
    for (const t of [
      {},
      { path: '/nope' },
      { headers: [['x-role', 'guest']] as [string, string][] },
    ]) {
      const response = await new Promise<unknown>((resolve) => {
        service.Check({ request: checkRequest(t) } as never, (_err, value) => resolve(value));
      });
      assert.deepEqual(checkMessage('envoy.service.auth.v3.CheckResponse', response), []);
    }
  });

  describe('decision records', () => {
    it('records every deny with the policy, the why and only the headers policies name', async () => {
      await h.start({ sampleAllows: 0 });
      await h.check({
        path: '/admin/x?q=1',
        requestId: 'rid-7',
        headers: [
          ['x-role', 'ops'],
          ['x-other', 'not recorded'],
          ['authorization', 'Bearer secret-token'],
        ],
        payload: protoValue({ sub: 'alice' }),
      });
      assert.deepEqual(h.records, [
        {
          at: NOW,
          requestId: 'rid-7',
          version: 'commit-1',
          enforcedBy: 'ext_authz',
          source: { principal: FRONTEND, address: '127.0.0.1' },
          destination: { service: 'backend', principal: BACKEND, port: 8080 },
          request: {
            method: 'GET',
            host: 'backend',
            path: '/admin/x?q=1',
            headers: { 'x-role': 'ops' },
            claims: { sub: 'alice' },
          },
          outcome: 'deny',
          policy: 'backend-deny',
          rule: 'admin-path',
          why: 'DENY policy "backend-deny" rule "admin-path" matches',
          dryRun: { outcome: 'deny', policy: 'backend-deny', rule: 'admin-path' },
        },
      ]);
    });

    it('records refusals, with what could be read', async () => {
      await h.start({ sampleAllows: 0 });
      await h.check({ destination: `${TD}/ghost`, requestId: 'rid-8' });
      const [record] = h.records;
      assert.equal(record?.outcome, 'deny');
      assert.equal(record?.requestId, 'rid-8');
      assert.deepEqual(record?.destination, { principal: `${TD}/ghost`, port: 15006 });
      assert.equal(record?.policy, undefined);
      assert.match(record?.why ?? '', /^refused before any policy: the destination/);
    });

    it('records a dry-run "would deny" even when the request is allowed', async () => {
      await h.start({ sampleAllows: 0 });
      const r = await h.check({ method: 'POST', path: '/api/orders' });
      assertAllowed(r);
      assert.equal(meta(r)['dryRun'], 'deny');
      assert.equal(h.records.length, 1);
      assert.equal(h.records[0]?.outcome, 'allow');
      assert.deepEqual(h.records[0]?.dryRun, {
        outcome: 'deny',
        policy: 'backend-dry',
        rule: 'no-post',
      });
    });

    it('samples allows by request id: none at 0, all at 1, a stable share in between', async () => {
      await h.start({ sampleAllows: 0 });
      for (let i = 0; i < 20; i++) assertAllowed(await h.check({ requestId: `a-${i}` }));
      assert.equal(h.records.length, 0);

      await h.start({ sampleAllows: 1 });
      for (let i = 0; i < 20; i++) await h.check({ requestId: `a-${i}` });
      assert.equal(h.records.length, 20);
      assert.ok(h.records.every((r) => r.outcome === 'allow' && r.policy === 'backend-allow'));

      const sampled = async () => {
        await h.start({ sampleAllows: 0.25 });
        for (let i = 0; i < 200; i++) await h.check({ requestId: `s-${i}` });
        return h.records.map((r) => r.requestId);
      };
      const first = await sampled();
      assert.deepEqual(await sampled(), first, 'the same requests are sampled every time');
      assert.ok(first.length > 20 && first.length < 80, `sampled ${first.length} of 200`);
    });

    it('keeps only a digest of credential headers a policy names', async () => {
      const snapshot = testSnapshot();
      h.snapshot = { ...snapshot, headerNames: [...snapshot.headerNames, 'authorization'] };
      try {
        await h.start({ sampleAllows: 0 });
        await h.check({ path: '/nope', headers: [['authorization', 'Bearer secret-token']] });
        const recorded = h.records[0]?.request.headers['authorization'];
        assert.match(String(recorded), /^sha256:[0-9a-f]{16}$/);
        assert.doesNotMatch(JSON.stringify(h.records), /secret-token/);
      } finally {
        h.snapshot = testSnapshot();
      }
    });

    it('answers even when the decision log sink throws', async () => {
      await h.start({
        onDecision: () => {
          throw new Error('disk full');
        },
      });
      assertDenied(await h.check({ path: '/nope' }));
    });
  });

  it('answers a few thousand concurrent checks correctly (throughput sanity, not timed)', async () => {
    await h.start({ sampleAllows: 0 });
    const total = 2000;
    const inFlight = 200;
    let next = 0;
    let allowed = 0;
    let denied = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < total) {
          const i = next++;
          const deny = i % 3 === 0;
          const r = await h.check({ path: deny ? '/admin/x' : '/api/x', requestId: `t-${i}` });
          if (deny) {
            assertDenied(r, `t-${i}`);
            denied++;
          } else {
            assertAllowed(r);
            allowed++;
          }
        }
      }),
    );
    assert.equal(allowed + denied, total);
    assert.equal(h.records.length, denied);
  });
});

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import {
  type ServerWritableStream,
  type StatusObject,
  Server,
  ServerCredentials,
  credentials,
  status,
} from '@grpc/grpc-js';
import type { Clock } from '@parley/core';
import { type TempDir, makeTempDir } from '@parley/testing';
import { evaluateRequest } from '../evaluate/evaluate-request.js';
import { checkRequestToAuthz } from '../ext-authz/check-request.js';
import { checkRequest, testSnapshot } from '../ext-authz/ext-authz-test-fixtures.js';
import { type AuthzSnapshot, serializeAuthzSnapshot } from '../model/authz-snapshot.js';
import {
  TestFeed,
  policyDistributionClient,
  policyDistributionDefinition,
} from './distribution-test-api.js';
import {
  type PolicySnapshotWire,
  createPolicyDistributionService,
} from './policy-distribution-service.js';
import { type WatchPoliciesOptions, watchPolicies } from './watch-policies.js';

type Call = ServerWritableStream<unknown, PolicySnapshotWire>;

const wire = (s: AuthzSnapshot): PolicySnapshotWire => ({
  version: s.version,
  snapshot_json: serializeAuthzSnapshot(s),
});

const fail = (call: Call, code: status, details: string) => {
  const s: Partial<StatusObject> = { code, details };
  call.emit('error', s);
};

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const timeout = AbortSignal.timeout(timeoutMs);
  while (!condition()) {
    if (timeout.aborted) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A mutable clock: tests move it by hand. */
class TestClock implements Clock {
  at = Date.parse('2026-03-03T10:00:00Z');
  now(): number {
    return this.at;
  }
}

describe('watchPolicies', () => {
  let dir: TempDir;
  let address: string;
  let server: Server;
  /** What the test server does with each WatchPolicies call (tests swap it). */
  let handler: (call: Call) => void = () => undefined;
  let calls = 0;

  let sockets = 0;

  before(async () => {
    dir = await makeTempDir('parley-watch-policies-');
  });

  after(async () => {
    await dir.remove();
  });

  // A server per test: a stream cancelled at the end of one test may still reach its server late.
  beforeEach(async () => {
    calls = 0;
    handler = () => undefined;
    address = `unix://${join(dir.path, `authz-${++sockets}.sock`)}`;
    server = new Server();
    server.addService(policyDistributionDefinition(), {
      WatchPolicies: (call: Call) => {
        calls++;
        handler(call);
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(address, ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  });

  afterEach(() => {
    server.forceShutdown();
  });

  /** Runs a watcher until the test aborts it; collects snapshots, logs and backoff delays. */
  function start(overrides: Partial<WatchPoliciesOptions> = {}) {
    const controller = new AbortController();
    const client = policyDistributionClient(address, credentials.createInsecure());
    const snapshots: AuthzSnapshot[] = [];
    const logs: { message: string; fields: Record<string, unknown> }[] = [];
    const delays: number[] = [];
    const done = watchPolicies(client, {
      onSnapshot: (s) => snapshots.push(s),
      clock: new TestClock(),
      log: (message, fields) => logs.push({ message, fields }),
      backoff: { initialMs: 10, maxMs: 40 },
      random: () => 0.5,
      sleep: async (ms, signal) => {
        delays.push(ms);
        if (signal.aborted) throw new Error('aborted');
        await new Promise((r) => setTimeout(r, 1));
      },
      ...overrides,
      signal: controller.signal,
    });
    const stop = async () => {
      controller.abort();
      await done;
      client.close();
    };
    return { snapshots, logs, delays, done, stop, controller };
  }

  it('receives the snapshots the service distributes, which decide as the originals', async () => {
    const feed = new TestFeed(testSnapshot('v1'));
    handler = createPolicyDistributionService({
      current: () => feed.current(),
      subscribe: (l) => feed.subscribe(l),
      authenticate: () => undefined,
      authorize: () => true,
    }).WatchPolicies;
    const w = start();
    try {
      await until(() => w.snapshots.length === 1, 'v1');
      feed.set(testSnapshot('v2'));
      await until(() => w.snapshots.length === 2, 'v2');
      assert.deepEqual(
        w.snapshots.map((s) => s.version),
        ['v1', 'v2'],
      );
      const original = testSnapshot('v2');
      const received = w.snapshots[1] as AuthzSnapshot;
      const T = new Date('2026-03-03T10:00:00Z');
      for (const path of ['/api/x', '/admin/x', '/claims/x', '/other', '//api/../admin/x']) {
        const mapped = checkRequestToAuthz(checkRequest({ path }), received, T);
        assert.ok(mapped.ok);
        assert.deepEqual(
          evaluateRequest(received.policySet, mapped.request),
          evaluateRequest(original.policySet, mapped.request),
          path,
        );
      }
    } finally {
      await w.stop();
    }
    await until(() => feed.listeners === 0, 'the server stream to end with the watch');
  });

  it('keeps the last good snapshot when a message does not parse or lies about its version', async () => {
    handler = (call) => {
      call.write(wire(testSnapshot('v1')));
      call.write({ version: 'v2', snapshot_json: '{"format": 1, "version": "v2"' });
      call.write({ version: 'v3', snapshot_json: serializeAuthzSnapshot(testSnapshot('other')) });
      call.write(wire(testSnapshot('v4')));
    };
    const w = start();
    try {
      await until(() => w.snapshots.length === 2, 'v4');
      assert.deepEqual(
        w.snapshots.map((s) => s.version),
        ['v1', 'v4'],
      );
      const rejected = w.logs.filter((l) => l.message.includes('snapshot rejected'));
      assert.deepEqual(
        rejected.map((l) => l.fields['version']),
        ['v2', 'v3'],
      );
      assert.match(String(rejected[0]?.fields['error']), /invalid JSON/);
      assert.match(String(rejected[1]?.fields['error']), /says version v3, its snapshot other/);
    } finally {
      await w.stop();
    }
    assert.equal(calls, 1, 'a bad message does not end the stream');
  });

  it('survives an onSnapshot that throws', async () => {
    handler = (call) => {
      call.write(wire(testSnapshot('v1')));
      call.write(wire(testSnapshot('v2')));
    };
    const seen: string[] = [];
    const w = start({
      onSnapshot: (s) => {
        seen.push(s.version);
        if (s.version === 'v1') throw new Error('swap failed');
      },
    });
    try {
      await until(() => seen.length === 2, 'v2');
      assert.ok(w.logs.some((l) => l.message === 'policy watch: onSnapshot failed'));
    } finally {
      await w.stop();
    }
  });

  it('reconnects after the stream ends, at the initial delay when it delivered', async () => {
    handler = (call) => {
      call.write(wire(testSnapshot(`v${calls}`)));
      call.end();
    };
    const w = start();
    try {
      await until(() => w.snapshots.length >= 3, 'three streams');
      assert.deepEqual(
        w.snapshots.slice(0, 3).map((s) => s.version),
        ['v1', 'v2', 'v3'],
      );
      assert.ok(w.delays.slice(0, 2).every((d) => d === 10));
    } finally {
      await w.stop();
    }
  });

  it('makes a new client per attempt from a factory, and closes each', async () => {
    handler = (call) => {
      call.write(wire(testSnapshot(`v${calls}`)));
      call.end();
    };
    let made = 0;
    let closed = 0;
    const controller = new AbortController();
    const snapshots: string[] = [];
    const done = watchPolicies(
      () => {
        // The first attempt finds no credentials yet: it is retried, not fatal.
        if (made++ === 0) throw new Error('no SVID yet');
        const client = policyDistributionClient(address, credentials.createInsecure());
        return {
          WatchPolicies: (request, options) => client.WatchPolicies(request, options),
          close: () => {
            closed++;
            client.close();
          },
        };
      },
      {
        onSnapshot: (s) => snapshots.push(s.version),
        signal: controller.signal,
        clock: new TestClock(),
        backoff: { initialMs: 1, maxMs: 1 },
      },
    );
    await until(() => snapshots.length >= 3, 'three attempts');
    controller.abort();
    await done;
    assert.ok(made >= 4);
    assert.equal(closed, made - 1);
  });

  it('backs off exponentially up to the cap while the server fails, and starts over after a stable stream', async () => {
    const clock = new TestClock();
    handler = (call) => {
      // The fourth stream stays up for a minute before failing: it counts as healthy.
      if (calls === 4) clock.at += 60_000;
      fail(call, status.UNAVAILABLE, 'policies not built yet');
    };
    const w = start({ clock });
    try {
      await until(() => w.delays.length >= 7, 'seven attempts');
      assert.deepEqual(w.delays.slice(0, 7), [10, 20, 40, 10, 20, 40, 40]);
      const ended = w.logs.find((l) => l.message === 'policy watch: stream ended; reconnecting');
      assert.equal(ended?.fields['code'], status.UNAVAILABLE);
      assert.equal(ended?.fields['details'], 'policies not built yet');
    } finally {
      await w.stop();
    }
  });

  it('spreads delays by ±20% with the random source', async () => {
    handler = (call) => fail(call, status.UNAVAILABLE, 'down');
    const low = start({ random: () => 0 });
    const high = start({ random: () => 0.999 });
    try {
      await until(() => low.delays.length >= 3 && high.delays.length >= 3, 'three attempts each');
      assert.deepEqual(low.delays.slice(0, 3), [8, 16, 32]);
      assert.deepEqual(high.delays.slice(0, 3), [12, 24, 48]);
    } finally {
      await low.stop();
      await high.stop();
    }
  });

  it('stops when the signal aborts, cancelling the open stream', async () => {
    let cancelled = false;
    let streams = 0;
    handler = (call) => {
      streams++;
      call.write(wire(testSnapshot('v1')));
      call.on('cancelled', () => (cancelled = true));
    };
    const w = start();
    await until(() => w.snapshots.length === 1, 'v1');
    await w.stop();
    await until(() => cancelled, 'the server to see the cancel');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(streams, 1, 'no new stream after the abort');
  });

  it('retries when no server listens, until aborted', async () => {
    const controller = new AbortController();
    const client = policyDistributionClient(
      `unix://${join(dir.path, 'nobody.sock')}`,
      credentials.createInsecure(),
    );
    const delays: number[] = [];
    const done = watchPolicies(client, {
      onSnapshot: () => assert.fail('no snapshot expected'),
      signal: controller.signal,
      clock: new TestClock(),
      backoff: { initialMs: 1, maxMs: 4 },
      sleep: async (ms) => {
        delays.push(ms);
        if (delays.length >= 4) controller.abort();
        await new Promise((r) => setTimeout(r, 1));
      },
      random: () => 0.5,
    });
    await done;
    client.close();
    assert.deepEqual(delays, [1, 2, 4, 4]);
  });
});

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { type StatusObject, status } from '@grpc/grpc-js';
import { ParleyError } from '@parley/core';
import { makeTestCa } from '@parley/testing';
import { FakeIdentityCache } from './fake-identity-cache.js';
import { type StreamSubscriber, ViewFanOut, selectorKey } from './view-fan-out.js';
import type { Selector, WorkloadApiLog } from './workload-api-deps.js';
import type { StreamKind } from './workload-responses.js';

const log: WorkloadApiLog = { warn: () => undefined, error: () => undefined };
const ALICE: Selector[] = [{ type: 'test', value: 'alice' }];

function recorder(kind: StreamKind = 'x509-svid') {
  const sent: unknown[] = [];
  const ended: StatusObject[] = [];
  const subscriber: StreamSubscriber = {
    kind,
    send: (m) => sent.push(m),
    end: (s) => ended.push(s),
  };
  return { subscriber, sent, ended };
}

const settle = () => new Promise((r) => setImmediate(() => setImmediate(r)));

describe('ViewFanOut', () => {
  let cache: FakeIdentityCache;

  before(async () => {
    cache = new FakeIdentityCache(await makeTestCa());
    await cache.addEntry({ selectors: ALICE, spiffeId: 'spiffe://example.org/alice' });
  });

  it('keys selector sets regardless of order and duplicates', () => {
    const a = { type: 'unix', value: 'uid:1' };
    const b = { type: 'unix', value: 'gid:2' };
    assert.equal(selectorKey([a, b, a]), selectorKey([b, a]));
    assert.notEqual(selectorKey([a]), selectorKey([b]));
    assert.notEqual(
      selectorKey([{ type: 'a:b', value: 'c' }]),
      selectorKey([{ type: 'a', value: 'b:c' }]),
    );
  });

  it('tells view watchers at once and once per coalesced change, sharing the stream view', async () => {
    const fanOut = new ViewFanOut(cache, log);
    const seen: boolean[] = [];
    const r = recorder();
    const leaveStream = fanOut.join(ALICE, r.subscriber);
    const unwatch = fanOut.watch(ALICE, (outcome) => seen.push(outcome.ok));
    assert.deepEqual(seen, [true]);
    const views = cache.viewCalls;
    cache.notify();
    cache.notify();
    await settle();
    assert.deepEqual(seen, [true, true]);
    assert.equal(cache.viewCalls - views, 1, 'the stream and the watcher share one view');
    unwatch();
    cache.notify();
    await settle();
    assert.equal(seen.length, 2, 'no call after unwatch');
    leaveStream();
    assert.equal(cache.listenerCount, 0, 'unsubscribed once nobody is left');
  });

  it('sends the first message on join and coalesces change events into one computation', async () => {
    const fanOut = new ViewFanOut(cache, log);
    const r1 = recorder();
    const r2 = recorder('jwt-bundles');
    const leave1 = fanOut.join(ALICE, r1.subscriber);
    const leave2 = fanOut.join([...ALICE].reverse(), r2.subscriber);
    assert.equal(r1.sent.length, 1);
    assert.equal(r2.sent.length, 1);
    const views = cache.viewCalls;
    cache.notify();
    cache.notify();
    cache.notify();
    await settle();
    assert.equal(cache.viewCalls - views, 1, 'one view for three events and two streams');
    assert.equal(r1.sent.length + r2.sent.length, 2, 'an unchanged view is not sent again');
    await cache.rotate('spiffe://example.org/alice');
    await settle();
    assert.equal(r1.sent.length, 2, 'the rotation reaches the SVID stream');
    assert.equal(r2.sent.length, 1, 'the JWT bundles did not change');
    leave1();
    leave1();
    assert.equal(cache.listenerCount, 1);
    leave2();
    assert.equal(cache.listenerCount, 0, 'unsubscribed with the last stream');
  });

  it('ends the streams of a caller whose view fails, and forgets them', async () => {
    const failing = new FakeIdentityCache(await makeTestCa());
    const viewFor = failing.viewFor.bind(failing);
    let fail = false;
    failing.viewFor = (selectors) => {
      if (fail) throw new ParleyError('unavailable', 'no bundle yet');
      return viewFor(selectors);
    };
    await failing.addEntry({ selectors: ALICE, spiffeId: 'spiffe://example.org/alice' });
    const fanOut = new ViewFanOut(failing, log);
    const r = recorder();
    fanOut.join(ALICE, r.subscriber);
    fail = true;
    failing.notify();
    await settle();
    assert.deepEqual(
      r.ended.map((s) => [s.code, s.details]),
      [[status.UNAVAILABLE, 'no bundle yet']],
    );
    assert.equal(failing.listenerCount, 0);
  });
});

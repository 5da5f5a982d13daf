import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Clock } from '@parley/core';
import { meshStatus } from './mesh-status.js';
import { MAX_NACK_MESSAGE_CHARS, ProxyStatusRegistry } from './proxy-status-registry.js';

const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';

describe('proxy status', () => {
  let now = 100;
  const clock: Clock = { now: () => now };
  const node = { cluster: 'web', userAgent: 'envoy', metadataKeys: ['instance'] };

  it('tracks sent, ACKed and NACKed versions per type and forgets closed streams', () => {
    const r = new ProxyStatusRegistry(clock);
    r.connected({ streamId: 1, spiffeId: 'spiffe://example.org/web', node, kind: 'sotw' });
    r.connected({ streamId: 2, spiffeId: 'spiffe://example.org/api', node, kind: 'delta' });
    r.sent(1, CDS, 'v1');
    r.acked(1, CDS, 'v1');
    r.sent(1, CDS, 'v2');
    now = 200;
    r.nacked(1, CDS, 'v2', 'x'.repeat(5000));
    r.sent(2, EDS, 'v2');
    r.acked(2, EDS, 'v2');
    r.acked(9, EDS, 'v2'); // unknown stream: ignored
    const controller = {
      current: { version: 'v2', commit: 'v2', appliedAt: 50 },
      lastRejected: null,
      sourceError: null,
    };
    const s = meshStatus({ controller, proxies: r.proxies() });
    assert.equal(s.version, 'v2');
    assert.deepEqual(
      s.proxies.map((p) => p.spiffeId),
      ['spiffe://example.org/api', 'spiffe://example.org/web'],
    );
    const web = s.proxies[1];
    assert.equal(web?.connectedSince, 100);
    assert.equal(web?.types[CDS]?.lastAckedVersion, 'v1');
    assert.equal(web?.types[CDS]?.lastNack?.version, 'v2');
    assert.equal(web?.types[CDS]?.lastNack?.message.length, MAX_NACK_MESSAGE_CHARS);
    assert.equal(web?.types[CDS]?.lastNack?.at, 200);
    assert.deepEqual(s.counts, { proxies: 2, upToDate: 1, nacking: 1 });
    r.configError(2, 'unknown proxy');
    assert.equal(meshStatus({ controller, proxies: r.proxies() }).counts.upToDate, 0);
    r.disconnected(1);
    assert.equal(r.proxies().length, 1);
  });

  it('is a plain value (JSON round-trips)', () => {
    const r = new ProxyStatusRegistry(clock);
    r.connected({ streamId: 1, spiffeId: 'spiffe://example.org/web', node, kind: 'sotw' });
    const s = meshStatus({
      controller: { current: null, lastRejected: null, sourceError: null },
      proxies: r.proxies(),
    });
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  });
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { toProto3Json } from '@parley/api';
import { parseSpiffeId } from '@parley/core';
import { findPeer, makeTempDir } from '@parley/testing';
import { mintProxyBootstrap } from './proxy-bootstrap.js';

const input = {
  spiffeId: parseSpiffeId('spiffe://example.org/web'),
  instance: 'web-0',
  agentSocket: '/run/parley/web.sock',
  xdsAddress: { host: '127.0.0.1', port: 15010 },
  serverId: parseSpiffeId('spiffe://example.org/parley/server'),
  adminPort: 0,
  delta: false,
};

describe('proxy bootstrap', () => {
  it('names the proxy by its SPIFFE ID and pins the server identity', () => {
    const json = toProto3Json('envoy.config.bootstrap.v3.Bootstrap', mintProxyBootstrap(input));
    const b = json as {
      node: { id: string; metadata: Record<string, unknown> };
      static_resources: { clusters: { name: string; connect_timeout: string }[] };
    };
    assert.equal(b.node.id, 'spiffe://example.org/web');
    assert.deepEqual(b.node.metadata, { instance: 'web-0' });
    assert.equal(b.static_resources.clusters[0]?.connect_timeout, '1s');
    assert.match(JSON.stringify(json), /"exact":"spiffe:\/\/example.org\/parley\/server"/);
  });

  it('is accepted by Envoy 1.40 (envoy --mode validate)', async () => {
    const dir = await makeTempDir();
    try {
      for (const delta of [false, true]) {
        const file = join(dir.path, `bootstrap-${String(delta)}.json`);
        const bootstrap = mintProxyBootstrap({ ...input, delta });
        const json = toProto3Json('envoy.config.bootstrap.v3.Bootstrap', bootstrap);
        await writeFile(file, JSON.stringify(json));
        const { stdout } = await promisify(execFile)(findPeer('envoy'), [
          '--mode',
          'validate',
          '-c',
          file,
          '--log-level',
          'error',
        ]);
        assert.match(stdout, /OK/);
      }
    } finally {
      await dir.remove();
    }
  });
});

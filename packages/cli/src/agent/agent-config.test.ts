import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, readConfig } from '@parley/core';
import { readAgentConfig } from './agent-config.js';

const base = {
  trustDomain: 'example.org',
  dataDir: '/var/lib/parley/agent',
  bootstrapBundleFile: 'bundle.pem',
};
const read = (value: unknown) =>
  readConfig(value, (r) => readAgentConfig(r, (p) => resolve('/etc/parley', p)), 'agent config');

describe('agent config: workloadSockets', () => {
  it('is off unless configured; dir is resolved and mode defaults to 0600', () => {
    assert.equal(read(base).workloadSockets, undefined);
    assert.deepEqual(read({ ...base, workloadSockets: { dir: 'sockets' } }).workloadSockets, {
      dir: '/etc/parley/sockets',
      mode: 0o600,
    });
    assert.equal(
      read({ ...base, workloadSockets: { dir: '/run/parley/workloads', mode: '0660' } })
        .workloadSockets?.mode,
      0o660,
    );
  });

  it('reports a missing dir, a bad mode and unknown keys at once', () => {
    assert.throws(
      () => read({ ...base, workloadSockets: { mode: '0777', socketsDir: 'x' } }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const paths = err.problems.map((p) => p.path).sort();
        assert.deepEqual(paths, [
          'workloadSockets.dir',
          'workloadSockets.mode',
          'workloadSockets.socketsDir',
        ]);
        return true;
      },
    );
  });
});

describe('agent config: xdsRelay', () => {
  it('is off unless configured', () => {
    assert.equal(read(base).xdsRelay, undefined);
    assert.deepEqual(read({ ...base, xdsRelay: { serverAddress: '127.0.0.1:15012' } }).xdsRelay, {
      serverAddress: '127.0.0.1:15012',
    });
    assert.equal(
      read({ ...base, xdsRelay: { serverAddress: 'parley.example.org:443' } }).xdsRelay
        ?.serverAddress,
      'parley.example.org:443',
    );
  });

  it('requires a host:port server address and reports unknown keys', () => {
    for (const [relay, expected] of [
      [{}, ['xdsRelay.serverAddress']],
      [{ serverAddress: 'localhost' }, ['xdsRelay.serverAddress']],
      [{ serverAddress: '127.0.0.1:70000', tls: true }, ['xdsRelay.serverAddress', 'xdsRelay.tls']],
    ] as const) {
      assert.throws(
        () => read({ ...base, xdsRelay: relay }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.deepEqual(err.problems.map((p) => p.path).sort(), expected);
          return true;
        },
      );
    }
  });
});

import { ConfigError, readConfig } from '@parley/core';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnixAttestor } from './unix-attestor.js';
import {
  WORKLOAD_ATTESTORS,
  createWorkloadAttestors,
  readWorkloadAttestorsConfig,
} from './workload-attestors.js';

describe('the workload attestor table', () => {
  it('enables the attestors its config names', () => {
    assert.deepEqual(Object.keys(WORKLOAD_ATTESTORS), ['unix']);
    const config = readConfig(
      { unix: { discoverWorkloadPath: true } },
      readWorkloadAttestorsConfig,
    );
    assert.deepEqual(config, {
      unix: { discoverWorkloadPath: true, workloadSizeLimit: 512 * 1024 * 1024 },
    });
    const attestors = createWorkloadAttestors(config);
    assert.equal(attestors.length, 1);
    assert.ok(attestors[0] instanceof UnixAttestor);
    assert.equal(attestors[0].type, 'unix');
    assert.deepEqual(createWorkloadAttestors(readConfig({}, readWorkloadAttestorsConfig)), []);
  });

  it('rejects attestors it does not have and bad settings, all at once', () => {
    assert.throws(
      () =>
        readConfig(
          { unix: { workloadSizeLimit: 'big' }, k8s: {} },
          readWorkloadAttestorsConfig,
          'agent config',
        ),
      (e) =>
        e instanceof ConfigError &&
        e.problems.length === 2 &&
        e.problems.some((p) => p.path === 'unix.workloadSizeLimit') &&
        e.problems.some((p) => p.path === 'k8s' && p.message === 'unknown field'),
    );
  });
});

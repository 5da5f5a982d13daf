import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { peercredAddon } from '../peer/peercred-addon.js';
import { spawnNode } from '../peer/test-support.js';
import { attestWorkload } from './attest-workload.js';
import { UnixAttestor } from './unix-attestor.js';
import type { WorkloadAttestation, WorkloadAttestor, WorkloadPeer } from './workload-attestor.js';

function fixed(type: string, outcome: WorkloadAttestation, onAttest = () => {}): WorkloadAttestor {
  return {
    type,
    attest: async () => {
      onAttest();
      return outcome;
    },
  };
}

const peer = (alive: () => boolean): WorkloadPeer => ({ pid: 1, uid: 0, gid: 0, isAlive: alive });

describe('attestWorkload', () => {
  it('joins the selectors of every attestor', async () => {
    const outcome = await attestWorkload(
      peer(() => true),
      [
        fixed('unix', { ok: true, selectors: [{ type: 'unix', value: 'uid:0' }] }),
        fixed('k8s', { ok: true, selectors: [{ type: 'k8s', value: 'ns:default' }] }),
      ],
    );
    assert.deepEqual(outcome, {
      ok: true,
      selectors: [
        { type: 'unix', value: 'uid:0' },
        { type: 'k8s', value: 'ns:default' },
      ],
    });
  });

  it('denies when the process exits before or during attestation, or an attestor fails', async () => {
    let alive = true;
    const dying = fixed('unix', { ok: true, selectors: [] }, () => (alive = false));
    assert.deepEqual(
      await attestWorkload(
        peer(() => alive),
        [dying],
      ),
      {
        ok: false,
        reason: 'process exited during attestation',
      },
    );
    assert.deepEqual(
      await attestWorkload(
        peer(() => false),
        [dying],
      ),
      {
        ok: false,
        reason: 'the calling process has exited',
      },
    );
    const failing = fixed('unix', { ok: false, reason: 'no luck' });
    assert.deepEqual(
      await attestWorkload(
        peer(() => true),
        [failing],
      ),
      {
        ok: false,
        reason: 'no luck',
      },
    );
  });

  it('confirms a real process with its pidfd', async () => {
    const addon = peercredAddon();
    const child = spawnNode('console.log("up"); setTimeout(() => {}, 20000)');
    await child.waitForLine('up');
    const pidfd = addon.pidfdOpen(child.pid);
    try {
      const real: WorkloadPeer = {
        pid: child.pid,
        uid: 0,
        gid: 0,
        isAlive: () => addon.pidfdIsAlive(pidfd),
      };
      const unix = [new UnixAttestor({ discoverWorkloadPath: true, workloadSizeLimit: -1 })];
      const outcome = await attestWorkload(real, unix);
      assert.ok(outcome.ok);
      assert.ok(outcome.selectors.some((s) => s.value === `path:${process.execPath}`));
      await child.kill();
      assert.equal((await attestWorkload(real, unix)).ok, false);
    } finally {
      addon.closeFd(pidfd);
      await child.kill();
    }
  });
});

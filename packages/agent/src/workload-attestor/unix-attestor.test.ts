import { ConfigError, readConfig } from '@parley/core';
import { type TempDir, makeTempDir } from '@parley/testing';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NOBODY, canSwitchUsers, spawnNode } from '../peer/test-support.js';
import { ExecutableHasher } from './executable-hasher.js';
import { formatSelector } from './selector.js';
import {
  DEFAULT_WORKLOAD_SIZE_LIMIT,
  UnixAttestor,
  type UnixAttestorConfig,
  readUnixAttestorConfig,
} from './unix-attestor.js';
import type { WorkloadAttestation, WorkloadPeer } from './workload-attestor.js';

const withPath: UnixAttestorConfig = {
  discoverWorkloadPath: true,
  workloadSizeLimit: DEFAULT_WORKLOAD_SIZE_LIMIT,
};

function self(): WorkloadPeer {
  return {
    pid: process.pid,
    uid: process.getuid?.() ?? -1,
    gid: process.getgid?.() ?? -1,
    isAlive: () => true,
  };
}

function texts(outcome: WorkloadAttestation): string[] {
  assert.ok(outcome.ok, outcome.ok ? '' : outcome.reason);
  return outcome.selectors.map(formatSelector);
}

/** `/proc/self/status`'s supplementary groups, as the attestor should report them. */
async function ownGroups(): Promise<string[]> {
  const status = await readFile('/proc/self/status', 'utf8');
  const line = status.split('\n').find((l) => l.startsWith('Groups:')) ?? 'Groups:';
  return line.slice(7).trim().split(/\s+/).filter(Boolean);
}

describe('the unix workload attestor', () => {
  let dir: TempDir;
  before(async () => {
    dir = await makeTempDir();
  });
  after(() => dir.remove());

  it('attests this process: ids, names, executable path and digest (cached)', async () => {
    const hasher = new ExecutableHasher({ sizeLimit: DEFAULT_WORKLOAD_SIZE_LIMIT });
    const attestor = new UnixAttestor(withPath, { hasher });
    const selectors = texts(await attestor.attest(self()));
    const digest = createHash('sha256')
      .update(await readFile(process.execPath))
      .digest('hex');
    const supplementary = await ownGroups();
    assert.ok(process.getuid?.() === 0, 'the tests run as root');
    assert.deepEqual(selectors.slice(0, 4), [
      'unix:uid:0',
      'unix:user:root',
      'unix:gid:0',
      'unix:group:root',
    ]);
    assert.deepEqual(selectors.slice(-2), [
      `unix:path:${process.execPath}`,
      `unix:sha256:${digest}`,
    ]);
    const middle = selectors.slice(4, -2);
    assert.deepEqual(
      middle.filter((s) => s.startsWith('unix:supplementary_gid:')),
      supplementary.map((g) => `unix:supplementary_gid:${g}`),
    );
    assert.ok(middle.every((s) => /^unix:supplementary_(gid|group):/.test(s)));
    assert.deepEqual(hasher.stats, { hashed: 1, cached: 0 });
    assert.deepEqual(texts(await attestor.attest(self())), selectors);
    assert.deepEqual(hasher.stats, { hashed: 1, cached: 1 }, 'the second call hits the cache');
  });

  it('leaves out path and digest unless configured, and the digest at limit -1', async () => {
    const plain = texts(
      await new UnixAttestor(readConfig({}, readUnixAttestorConfig)).attest(self()),
    );
    assert.ok(plain.every((s) => !s.startsWith('unix:path:') && !s.startsWith('unix:sha256:')));
    const pathOnly = texts(
      await new UnixAttestor({ discoverWorkloadPath: true, workloadSizeLimit: -1 }).attest(self()),
    );
    assert.ok(pathOnly.includes(`unix:path:${process.execPath}`));
    assert.ok(pathOnly.every((s) => !s.startsWith('unix:sha256:')));
  });

  it('reads supplementary groups and names from the files it is given', async () => {
    // A fake procfs and account files: the process 4242 runs /…/app in groups 4, 27 and 1234.
    const proc = join(dir.path, 'proc');
    const app = join(dir.path, 'app');
    await mkdir(join(proc, '4242'), { recursive: true });
    await writeFile(
      join(proc, '4242', 'status'),
      'Name:\tapp\nUid:\t1000\t1000\t1000\t1000\nGroups:\t4 27 1234 \n',
    );
    await writeFile(app, '#!/bin/sh\necho hi\n');
    await symlink(app, join(proc, '4242', 'exe'));
    const passwdPath = join(dir.path, 'passwd');
    const groupPath = join(dir.path, 'group');
    await writeFile(passwdPath, 'alice:x:1000:1000::/home/alice:/bin/sh\n');
    await writeFile(groupPath, 'adm:x:4:alice\nsudo:x:27:alice\nalice:x:1000:\n');
    const peer = { pid: 4242, uid: 1000, gid: 1000, isAlive: () => true };
    const deps = { procRoot: proc, passwdPath, groupPath };
    assert.deepEqual(texts(await new UnixAttestor(withPath, deps).attest(peer)), [
      'unix:uid:1000',
      'unix:user:alice',
      'unix:gid:1000',
      'unix:group:alice',
      'unix:supplementary_gid:4',
      'unix:supplementary_group:adm',
      'unix:supplementary_gid:27',
      'unix:supplementary_group:sudo',
      'unix:supplementary_gid:1234',
      `unix:path:${app}`,
      `unix:sha256:${createHash('sha256').update('#!/bin/sh\necho hi\n').digest('hex')}`,
    ]);
    // An id without a name gets only its number.
    const stranger = { ...peer, uid: 2000, gid: 2000 };
    const selectors = texts(await new UnixAttestor(withPath, deps).attest(stranger));
    assert.deepEqual(selectors.slice(0, 2), ['unix:uid:2000', 'unix:gid:2000']);
    // An executable over the size limit fails attestation, as in SPIRE.
    const small = new UnixAttestor({ discoverWorkloadPath: true, workloadSizeLimit: 4 }, deps);
    const outcome = await small.attest(peer);
    assert.equal(outcome.ok, false);
    assert.match(outcome.ok ? '' : outcome.reason, /over the 4-byte workload size limit/);
  });

  it('attests a process running as nobody', { skip: !canSwitchUsers() }, async () => {
    const child = spawnNode('console.log("up"); setTimeout(() => {}, 20000)', [], NOBODY);
    try {
      await child.waitForLine('up');
      const peer = { pid: child.pid, ...NOBODY, isAlive: () => true };
      const selectors = texts(
        await new UnixAttestor({ discoverWorkloadPath: true, workloadSizeLimit: -1 }).attest(peer),
      );
      assert.deepEqual(selectors, [
        'unix:uid:65534',
        'unix:user:nobody',
        'unix:gid:65534',
        'unix:group:nogroup',
        `unix:path:${process.execPath}`,
      ]);
    } finally {
      await child.kill();
    }
  });

  it('reports a process that is gone', async () => {
    const child = spawnNode('process.exit(0)');
    await child.exited();
    const outcome = await new UnixAttestor(withPath).attest({ ...self(), pid: child.pid });
    assert.deepEqual(outcome, {
      ok: false,
      reason: `process ${child.pid} exited during attestation`,
    });
    const unseen = await new UnixAttestor(withPath).attest({ ...self(), pid: 0 });
    assert.equal(unseen.ok, false);
  });

  it('reads its config strictly', () => {
    assert.deepEqual(readConfig({}, readUnixAttestorConfig), {
      discoverWorkloadPath: false,
      workloadSizeLimit: 512 * 1024 * 1024,
    });
    assert.deepEqual(
      readConfig({ discoverWorkloadPath: true, workloadSizeLimit: -1 }, readUnixAttestorConfig),
      { discoverWorkloadPath: true, workloadSizeLimit: -1 },
    );
    assert.throws(
      () =>
        readConfig({ workloadSizeLimit: 0, discover_workload_path: true }, readUnixAttestorConfig),
      (e) =>
        e instanceof ConfigError &&
        e.problems.some((p) => p.path === 'workloadSizeLimit') &&
        e.problems.some(
          (p) => p.path === 'discover_workload_path' && p.message === 'unknown field',
        ),
    );
  });
});

import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ENVOY_MISSING, findEnvoy } from './envoy-binary.js';

describe('findEnvoy', () => {
  let dir: string;
  let fake: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parley-envoy-'));
    await mkdir(join(dir, 'bin'));
    fake = join(dir, 'bin', 'envoy');
    await writeFile(fake, '#!/bin/sh\n');
    await chmod(fake, 0o755);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('prefers PARLEY_ENVOY, then the repository venv, then the PATH', async () => {
    assert.equal(findEnvoy({ PARLEY_ENVOY: fake }, '/nonexistent'), fake);
    await mkdir(join(dir, 'repo', '.venv', 'bin'), { recursive: true });
    const venv = join(dir, 'repo', '.venv', 'bin', 'envoy');
    await writeFile(venv, '#!/bin/sh\n');
    await chmod(venv, 0o755);
    assert.equal(findEnvoy({ PATH: join(dir, 'bin') }, join(dir, 'repo')), venv);
    assert.equal(findEnvoy({ PATH: join(dir, 'bin') }, '/nonexistent'), fake);
  });

  it('fails with one sentence saying how to install it', () => {
    assert.throws(() => findEnvoy({ PATH: '/nonexistent' }, '/nonexistent'), {
      message: ENVOY_MISSING,
    });
    assert.throws(
      () => findEnvoy({ PARLEY_ENVOY: '/nonexistent/envoy' }, '/x'),
      /not an executable/,
    );
  });
});

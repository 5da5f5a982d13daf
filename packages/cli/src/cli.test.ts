import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { runCli } from './cli.js';

async function run(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: {},
  });
  return { code, stdout, stderr };
}

describe('parley CLI', () => {
  it('prints help with exit 0', async () => {
    const r = await run('--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: parley <command>/);
  });

  it('prints its version', async () => {
    assert.match((await run('version')).stdout, /^parley \d+\.\d+\.\d+\n$/);
    assert.match((await run('--version')).stdout, /^parley /);
  });

  it('exits 2 with a one-line error on a usage error', async () => {
    const r = await run('no-such-command');
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal((await run('version', 'extra')).code, 2);
  });

  it('runs as the installed binary', async () => {
    const bin = join(import.meta.dirname, 'main.js');
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'version']);
    assert.match(stdout, /^parley /);
  });
});

describe('parley server run / agent run configuration', () => {
  it('reports every problem of a bad config at once, with its path, and exits 1', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'parley-cli-'));
    try {
      const file = join(dir, 'server.yaml');
      await writeFile(file, 'trustDomain: Example.org\ndataDir: d\nca:\n  ttl: soon\nbogus: 1\n');
      const r = await run('server', 'run', '--config', file);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /trustDomain: invalid trust domain/);
      assert.match(r.stderr, /ca\.ttl: invalid duration/);
      assert.match(r.stderr, /bogus: unknown field/);
      await writeFile(file, 'trustDomain: example.org\ntrustDomain: example.com\n');
      const dup = await run('agent', 'run', '--config', file);
      assert.equal(dup.code, 1);
      assert.match(dup.stderr, /unique|duplicate/i);
      assert.equal((await run('server', 'run')).code, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

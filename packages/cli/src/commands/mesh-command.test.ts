import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { isParleyError } from '@parley/core';
import type { CliIo } from '../command.js';
import { UsageError } from '../command.js';
import { meshCommand } from './mesh-command.js';

// dist/commands/ → the repository root.
const EXAMPLE = fileURLToPath(new URL('../../../../examples/mesh-basic', import.meta.url));

async function mesh(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} };
  const code = await meshCommand.run(args, io);
  return { code, stdout, stderr };
}

describe('parley mesh', () => {
  it('validates the example config', async () => {
    const { code, stdout } = await mesh('validate', EXAMPLE);
    assert.equal(code, 0);
    assert.equal(
      stdout,
      'valid: 3 services, 1 route, 1 traffic policy, 1 authorization policy, 0 secret policies, 0 token policies in 4 files\n',
    );
  });

  it('prints every problem as file:line: path: message and exits 1', async () => {
    const path = await mkdtemp(join(tmpdir(), 'parley-mesh-cli-'));
    await using dir = { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true }) };
    await mkdir(join(dir.path, 'routes'));
    await mkdir(join(dir.path, '.git'));
    await writeFile(join(dir.path, '.git', 'ignored.yaml'), 'not: [valid');
    await writeFile(join(dir.path, 'README.md'), 'not yaml: [');
    await writeFile(
      join(dir.path, 'services.yaml'),
      `apiVersion: parley.dev/v1
kind: Service
metadata: { name: a }
spec:
  spiffeId: spiffe://example.org/a
  ports: [{ name: http, port: 70000 }]
`,
    );
    await writeFile(
      join(dir.path, 'routes', 'a.yml'),
      `apiVersion: parley.dev/v1
kind: Route
metadata: { name: a }
spec:
  host: a
  rules:
    - destinations:
        - { service: a, weight: 50 }
        - { service: b, weight: 40 }
`,
    );
    const { code, stdout, stderr } = await mesh('validate', dir.path);
    assert.equal(code, 1);
    assert.deepEqual(stdout.trimEnd().split('\n'), [
      'routes/a.yml:7: spec.rules[0].destinations: weights sum to 90, not 100',
      'routes/a.yml:9: spec.rules[0].destinations[1].service: no Service named "b"',
      'services.yaml:6: spec.ports[0].port: must be an integer between 1 and 65535',
    ]);
    assert.match(stderr, /3 problem/);
  });

  it('renders what a proxy gets, as JSON or YAML', async () => {
    const json = await mesh('render', EXAMPLE, '--node', 'spiffe://example.org/frontend');
    assert.equal(json.code, 0);
    const out = JSON.parse(json.stdout) as Record<
      string,
      { name?: string; cluster_name?: string }[]
    >;
    assert.deepEqual(
      out['listeners']?.map((l) => l.name),
      ['inbound', 'outbound'],
    );
    assert.deepEqual(
      out['clusters']?.map((c) => c.name),
      // parley_authz: the server's authz listener (decision log, ext_authz in server mode).
      ['backend', 'backend-v2', 'inbound_app', 'parley_authz'],
    );
    // The inbound listener enforces the example's policies with Envoy's RBAC filter.
    assert.match(JSON.stringify(out['listeners']), /envoy\.filters\.http\.rbac/);
    assert.equal(out['endpoints']?.length, 2);
    const yaml = await mesh(
      'render',
      EXAMPLE,
      '--node',
      'spiffe://example.org/backend',
      '--instance',
      'backend-1',
      '-o',
      'yaml',
    );
    assert.equal(yaml.code, 0);
    assert.match(yaml.stdout, /port_value: 15202/);
  });

  it('fails with a reason for an unknown proxy and refuses bad usage', async () => {
    await assert.rejects(
      mesh('render', EXAMPLE, '--node', 'spiffe://example.org/backend'),
      (err) => isParleyError(err, 'not-found') && /must name one/.test(err.message),
    );
    await assert.rejects(mesh('render', EXAMPLE), UsageError);
    await assert.rejects(mesh('render', EXAMPLE, '--node', 'not-an-id'), UsageError);
    await assert.rejects(mesh('validate'), UsageError);
    await assert.rejects(mesh('validate', '/nonexistent/parley'), (err) => isParleyError(err));
  });
});

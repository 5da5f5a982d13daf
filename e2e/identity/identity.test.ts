import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, copyFile, readFile, writeFile } from 'node:fs/promises';
import { ServerClient } from '@parley/agent';
import {
  decodePemBlocks,
  encodePem,
  generateKey,
  keyObjectSigner,
  mintCertificateRequest,
  parseSpiffeId,
} from '@parley/core';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type TempDir, findPeer, makeTempDir, makeTestCa } from '@parley/testing';
import { type Daemon, freePort, httpOk, waitFor } from '@parley/testing';
import { parley, startParley } from './harness.js';

const run = promisify(execFile);

// A real server and agent as separate processes on loopback, driven through the `parley` CLI and
// used by real SPIFFE clients: go-spiffe (the oracle), py-spiffe and SPIRE's own agent CLI.
describe('identity: parley server + agent + real SPIFFE clients', () => {
  let dir: TempDir;
  let server: Daemon;
  let agent: Daemon;
  let healthPort = 0;
  let apiPort = 0;
  let adminSocket = '';
  let agentSocket = '';
  let serverConfig = '';
  let agentConfig = '';
  const admin = (...args: string[]) => parley([...args, '--socket', adminSocket]);
  let oracleBin = '';
  const oracle = (args: string[], uid?: number) =>
    run(
      oracleBin,
      [...args, '--socket', `unix://${agentSocket}`, '--timeout', '20s'],
      uid === undefined ? {} : { uid, gid: uid },
    );

  const startServer = async () => {
    server = startParley(['server', 'run', '--config', serverConfig]);
    await waitFor(
      'server ready',
      () => httpOk(`http://127.0.0.1:${healthPort}/ready`),
      30_000,
      () => server.log(),
    );
  };
  const startAgent = async () => {
    agent = startParley(['agent', 'run', '--config', agentConfig]);
    await waitFor(
      'agent socket',
      () => agent.log().includes('Workload API listening'),
      30_000,
      () => agent.log(),
    );
  };

  before(async () => {
    dir = await makeTempDir('parley-e2e-');
    // Other uids (nobody, a uid with no entry) must reach the socket and run the oracle.
    await chmod(dir.path, 0o755);
    oracleBin = join(dir.path, 'go-spiffe-oracle');
    await copyFile(findPeer('go-spiffe-oracle'), oracleBin);
    await chmod(oracleBin, 0o755);
    healthPort = await freePort();
    apiPort = await freePort();
    adminSocket = join(dir.path, 'admin.sock');
    agentSocket = join(dir.path, 'agent.sock');
    serverConfig = join(dir.path, 'server.yaml');
    agentConfig = join(dir.path, 'agent.yaml');
    await writeFile(
      serverConfig,
      [
        'trustDomain: example.org',
        `dataDir: ${join(dir.path, 'server')}`,
        `agentApiAddress: 127.0.0.1:${apiPort}`,
        `adminSocket: ${adminSocket}`,
        `healthAddress: 127.0.0.1:${healthPort}`,
        'svid:',
        '  agentTtl: 1h',
        'nodeAttestors:',
        '  join_token: {}',
        '  x509pop:',
        `    caBundleFile: ${join(dir.path, 'node-ca.pem')}`,
      ].join('\n'),
    );
    // A node CA for x509pop attestation, and one node certificate with its key.
    const nodeCa = await makeTestCa({ trustDomain: 'nodes.example' });
    const node = await nodeCa.mintSvid('spiffe://nodes.example/node-1');
    await writeFile(join(dir.path, 'node-ca.pem'), encodePem('CERTIFICATE', nodeCa.root.raw));
    await writeFile(join(dir.path, 'node.pem'), encodePem('CERTIFICATE', node.der));
    await writeFile(
      join(dir.path, 'node-key.pem'),
      node.key.export({ type: 'pkcs8', format: 'pem' }) as string,
    );
    await startServer();

    const bundle = await admin('bundle', 'show', '-o', 'pem');
    assert.equal(bundle.code, 0, bundle.stderr);
    await writeFile(join(dir.path, 'bundle.pem'), bundle.stdout);
    const token = await admin('token', 'generate', '-o', 'json');
    assert.equal(token.code, 0, token.stderr);
    const { token: joinToken, agentSpiffeId } = JSON.parse(token.stdout) as {
      token: string;
      agentSpiffeId: string;
    };
    // root's workload keeps its SVID an hour; nobody's rotates every few seconds.
    for (const [id, ttl, uid] of [
      ['spiffe://example.org/workload', '1h', 0],
      ['spiffe://example.org/rotating', '6s', 65534],
    ] as const) {
      const created = await admin(
        'entry',
        'create',
        '--spiffe-id',
        id,
        '--parent-id',
        agentSpiffeId,
        '--selector',
        `unix:uid:${uid}`,
        '--x509-ttl',
        ttl,
      );
      assert.equal(created.code, 0, created.stderr);
    }
    await writeFile(
      agentConfig,
      [
        'trustDomain: example.org',
        `dataDir: ${join(dir.path, 'agent')}`,
        `serverAddress: 127.0.0.1:${apiPort}`,
        `bootstrapBundleFile: ${join(dir.path, 'bundle.pem')}`,
        `socketPath: ${agentSocket}`,
        `joinToken: ${joinToken}`,
        'syncInterval: 1s',
      ].join('\n'),
    );
    await startAgent();
  });

  after(async () => {
    await agent?.stop();
    await server?.stop();
    await dir?.remove();
  });

  it('go-spiffe fetches and verifies an X509-SVID, and fetches and validates a JWT-SVID', async () => {
    const x509 = JSON.parse((await oracle(['fetch-x509'])).stdout) as {
      svids: { spiffeId: string; verified: boolean }[];
    };
    assert.deepEqual(
      x509.svids.map((s) => s.spiffeId),
      ['spiffe://example.org/workload'],
    );
    assert.ok(x509.svids.every((s) => s.verified));
    const jwt = JSON.parse(
      (
        await oracle([
          'fetch-jwt',
          '--audience',
          'db',
          '--spiffe-id',
          'spiffe://example.org/workload',
        ])
      ).stdout,
    ) as { token: string };
    const validated = await oracle(['validate-jwt', '--audience', 'db', '--token', jwt.token]);
    assert.match(validated.stdout, /spiffe:\/\/example\.org\/workload/);
  });

  it('py-spiffe and spire-agent api fetch get the same identity', async () => {
    const script = [
      'import sys',
      'from spiffe import WorkloadApiClient',
      'with WorkloadApiClient(socket_path=sys.argv[1], default_timeout=10) as client:',
      '    print(sorted(str(s.spiffe_id) for s in client.fetch_x509_context().x509_svids))',
      '    print(client.fetch_jwt_svid(audience={"db"}).spiffe_id)',
    ].join('\n');
    const py = await run(findPeer('python'), ['-c', script, `unix://${agentSocket}`], {
      timeout: 20_000,
    });
    assert.match(py.stdout, /spiffe:\/\/example\.org\/workload/);
    const spire = await run(findPeer('spire-agent'), [
      'api',
      'fetch',
      'x509',
      '-socketPath',
      agentSocket,
    ]);
    assert.match(spire.stdout, /spiffe:\/\/example\.org\/workload/);
  });

  it('a uid with no entry gets PermissionDenied', async () => {
    await assert.rejects(oracle(['fetch-x509'], 12345), (e: { stderr: string }) =>
      /PermissionDenied/i.test(e.stderr),
    );
  });

  it('a watching client sees at least 3 rotations of a short-lived SVID', async () => {
    const out = await oracle(['watch', '--count', '4'], 65534);
    const serials = new Set(
      out.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { serial: string }).serial),
    );
    assert.ok(serials.size >= 3, out.stdout);
  });

  it('a forced CA rotation (prepare, activate, taint, revoke) reaches a watching client without an error', async () => {
    // Updates: the initial state, the prepared CA joining the bundle, the SVID re-issued after taint.
    const watch = oracle(['watch', '--count', '3'], 0);
    const shown = await admin('authority', 'x509', 'show', '-o', 'json');
    const old = (JSON.parse(shown.stdout) as { active?: string }).active;
    assert.ok(old !== undefined, shown.stdout);
    for (const step of [['prepare'], ['activate'], ['taint', '--id', old]]) {
      const r = await admin('authority', 'x509', ...step);
      assert.equal(r.code, 0, `${step.join(' ')}: ${r.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
    const updates = (await watch).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { serial: string });
    assert.ok(
      new Set(updates.map((u) => u.serial)).size >= 2,
      'the SVID was re-issued under the new CA',
    );
    const revoked = await admin('authority', 'x509', 'revoke', '--id', old);
    assert.equal(revoked.code, 0, revoked.stderr);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const after = JSON.parse((await oracle(['fetch-x509'])).stdout) as {
      svids: { verified: boolean }[];
    };
    assert.ok(after.svids.every((s) => s.verified));
  });

  // New agents bootstrap from the current bundle (the CA was rotated above).
  const refreshBundle = async () => {
    const bundle = await admin('bundle', 'show', '-o', 'pem');
    assert.equal(bundle.code, 0, bundle.stderr);
    await writeFile(join(dir.path, 'bundle.pem'), bundle.stdout);
  };

  it('one join token used by 10 agents at once attests exactly one of them', async () => {
    await refreshBundle();
    const { token } = JSON.parse((await admin('token', 'generate', '-o', 'json')).stdout) as {
      token: string;
    };
    const roots = decodePemBlocks(
      await readFile(join(dir.path, 'bundle.pem'), 'utf8'),
      'CERTIFICATE',
    );
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, async () => {
        const client = new ServerClient(
          {
            address: `127.0.0.1:${apiPort}`,
            serverId: parseSpiffeId('spiffe://example.org/parley/server'),
            roots,
          },
          undefined,
        );
        try {
          const csr = await mintCertificateRequest(keyObjectSigner(generateKey('ec-p256')));
          return await client.attest({ type: 'join_token', payload: Buffer.from(token) }, csr, () =>
            Promise.reject(new Error('no challenge')),
          );
        } finally {
          client.close();
        }
      }),
    );
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    for (const o of outcomes) {
      if (o.status === 'rejected') assert.match((o.reason as Error).message, /join token/);
    }
  });

  it('an agent attests with x509pop (proof of possession of a node certificate)', async () => {
    await refreshBundle();
    const config = join(dir.path, 'agent-x509pop.yaml');
    await writeFile(
      config,
      [
        'trustDomain: example.org',
        `dataDir: ${join(dir.path, 'agent-x509pop')}`,
        `serverAddress: 127.0.0.1:${apiPort}`,
        `bootstrapBundleFile: ${join(dir.path, 'bundle.pem')}`,
        `socketPath: ${join(dir.path, 'agent-x509pop.sock')}`,
        'x509pop:',
        `  certChainFile: ${join(dir.path, 'node.pem')}`,
        `  keyFile: ${join(dir.path, 'node-key.pem')}`,
      ].join('\n'),
    );
    const second = startParley(['agent', 'run', '--config', config]);
    try {
      await waitFor(
        'x509pop agent',
        () => second.log().includes('Workload API listening'),
        30_000,
        () => second.log(),
      );
      assert.match(second.log(), /spiffe:\/\/example\.org\/parley\/agent\/x509pop\/[0-9a-f]{40}/);
      const agents = await admin('agent', 'list', '-o', 'json');
      assert.match(agents.stdout, /x509pop/);
    } finally {
      await second.stop();
    }
  });

  it('kill -9 of the server: cached SVIDs keep being served; after restart nothing is lost', async () => {
    await server.stop('SIGKILL');
    const cached = JSON.parse((await oracle(['fetch-x509'])).stdout) as {
      svids: { spiffeId: string }[];
    };
    assert.equal(cached.svids.length, 1);
    await startServer();
    const listed = await admin('entry', 'list', '-o', 'json');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /spiffe:\/\/example\.org\/workload/);
    assert.match(listed.stdout, /spiffe:\/\/example\.org\/rotating/);
  });

  it('agent restart: clients reconnect and get the same identity without a new join token', async () => {
    await agent.stop();
    await startAgent();
    // The restarted agent re-mints its SVIDs (they are not kept on disk) before it serves.
    let last = '';
    await waitFor(
      'the restarted agent to serve spiffe://example.org/workload',
      async () => {
        last = await oracle(['fetch-x509']).then(
          (r) => r.stdout,
          (err: Error) => err.message,
        );
        return last.includes('spiffe://example.org/workload');
      },
      15_000,
      () => `${last}\n--- agent log ---\n${agent.log()}`,
    );
  });
});

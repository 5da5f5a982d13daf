import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Server } from '@grpc/grpc-js';
import { type Bundle, parseTrustDomain, systemClock } from '@parley/core';
import { type TempDir, findPeer, makeTempDir, makeTestCa } from '@parley/testing';
import { FakeIdentityCache } from './fake-identity-cache.js';
import type { WorkloadApiLog } from './workload-api-deps.js';
import { createWorkloadApiService } from './workload-api-service.js';
import { serveWorkloadApi } from './workload-api-test-client.js';

const run = promisify(execFile);
const ID = 'spiffe://example.org/workload';
const SELECTORS = [{ type: 'unix', value: 'uid:1000' }];

/** Waits for `n` complete stdout lines of a child process, with a deadline. */
function lineWaiter(
  stream: NodeJS.ReadableStream,
): (n: number, timeoutMs?: number) => Promise<string[]> {
  let text = '';
  let wake: (() => void) | undefined;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    text += chunk;
    wake?.();
  });
  const lines = () => text.split('\n').filter((l) => l !== '');
  return (n, timeoutMs = 5000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`fewer than ${n} lines: ${text}`)),
        timeoutMs,
      );
      wake = () => {
        if (!text.endsWith('\n') || lines().length < n) return;
        clearTimeout(timer);
        wake = undefined;
        resolve(lines());
      };
      wake();
    });
}

// SPIFFE clients use Parley's Workload API unchanged (DESIGN §3).
describe('Workload API with real SPIFFE clients', () => {
  let dir: TempDir;
  let server: Server;
  let socket: string;
  let cache: FakeIdentityCache;
  const log: WorkloadApiLog = { warn: () => undefined, error: () => undefined };

  before(async () => {
    dir = await makeTempDir();
    socket = join(dir.path, 'agent.sock');
    cache = new FakeIdentityCache(await makeTestCa());
    const partnerCa = await makeTestCa({ trustDomain: 'partner.example' });
    const partner: Bundle = {
      trustDomain: parseTrustDomain('partner.example'),
      x509Authorities: [partnerCa.root],
      jwtAuthorities: new Map(),
    };
    cache.setFederatedBundle(partner);
    await cache.addEntry({
      selectors: SELECTORS,
      spiffeId: ID,
      hint: 'test',
      federatesWith: ['partner.example'],
    });
    const service = createWorkloadApiService({
      // Peers cannot add metadata: every caller is the test's workload.
      identify: async () => ({ ok: true, selectors: SELECTORS }),
      cache,
      clock: systemClock,
      log,
    });
    server = await serveWorkloadApi(socket, service);
  });

  after(async () => {
    server.forceShutdown();
    await dir.remove();
  });

  describe('go-spiffe v2.9.0 (oracle)', () => {
    const oracle = (...args: string[]) =>
      run(findPeer('go-spiffe-oracle'), [
        ...args,
        '--socket',
        `unix://${socket}`,
        '--timeout',
        '10s',
      ]);

    it('fetch-x509 verifies the SVID against the bundle, federated bundles included', async () => {
      const out = JSON.parse((await oracle('fetch-x509')).stdout) as {
        svids: { spiffeId: string; verified: boolean; hint: string }[];
        bundles: string[];
      };
      assert.deepEqual(
        out.svids.map((s) => [s.spiffeId, s.verified, s.hint]),
        [[ID, true, 'test']],
      );
      assert.deepEqual(out.bundles.sort(), ['example.org', 'partner.example']);
    });

    it('fetch-jwt validates the token against the fetched JWT bundles; validate-jwt agrees', async () => {
      const fetched = JSON.parse((await oracle('fetch-jwt', '--audience', 'svc-a')).stdout) as {
        spiffeId: string;
        token: string;
        audience: string[];
      };
      assert.equal(fetched.spiffeId, ID);
      assert.deepEqual(fetched.audience, ['svc-a']);
      const validated = JSON.parse(
        (await oracle('validate-jwt', '--audience', 'svc-a', '--token', fetched.token)).stdout,
      ) as { spiffeId: string };
      assert.equal(validated.spiffeId, ID);
      await assert.rejects(
        oracle('validate-jwt', '--audience', 'svc-b', '--token', fetched.token),
        /InvalidArgument/,
      );
    });

    it('fetch-jwt-bundles parses the JWKS of every trust domain', async () => {
      const out = JSON.parse((await oracle('fetch-jwt-bundles')).stdout) as Record<
        string,
        { keys: { kid: string }[] }
      >;
      assert.deepEqual(
        out['example.org']?.keys.map((k) => k.kid),
        ['fake-jwt-key'],
      );
      assert.deepEqual(out['partner.example']?.keys, []);
    });

    it('watch sees 3 updates as the SVID rotates twice', async () => {
      const child = spawn(findPeer('go-spiffe-oracle'), [
        'watch',
        '--count',
        '3',
        '--socket',
        `unix://${socket}`,
        '--timeout',
        '10s',
      ]);
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      try {
        const lines = lineWaiter(child.stdout);
        await lines(1);
        await cache.rotate(ID);
        await lines(2);
        await cache.rotate(ID);
        const updates = (await lines(3)).map(
          (l) => JSON.parse(l) as { seq: number; spiffeId: string; serial: string },
        );
        assert.deepEqual(
          updates.map((u) => [u.seq, u.spiffeId]),
          [
            [1, ID],
            [2, ID],
            [3, ID],
          ],
        );
        assert.equal(new Set(updates.map((u) => u.serial)).size, 3, 'each update is a new SVID');
        assert.equal(await exited, 0);
      } finally {
        child.kill();
      }
    });
  });

  it('py-spiffe fetches an X509-SVID and a JWT-SVID and validates the JWT', async () => {
    const script = `
import sys
from spiffe import JwtSvid, WorkloadApiClient
with WorkloadApiClient(socket_path=sys.argv[1], default_timeout=10) as client:
    x509 = client.fetch_x509_context()
    print(x509.default_svid.spiffe_id)
    print(",".join(sorted(str(b.trust_domain) for b in x509.x509_bundle_set.bundles)))
    jwt = client.fetch_jwt_svid(audience={"py-audience"})
    print(jwt.spiffe_id)
    bundle = client.fetch_jwt_bundles().get_bundle_for_trust_domain(jwt.spiffe_id.trust_domain)
    print(JwtSvid.parse_and_validate(jwt.token, bundle, {"py-audience"}).spiffe_id)
    print(client.validate_jwt_svid(jwt.token, "py-audience").spiffe_id)
`;
    const { stdout } = await run(findPeer('python'), ['-c', script, `unix://${socket}`], {
      timeout: 20_000,
    });
    assert.deepEqual(stdout.trim().split('\n'), [ID, 'example.org,partner.example', ID, ID, ID]);
  });

  it('spire-agent api fetch x509 (SPIRE’s own client) prints the SVID', async () => {
    const { stdout } = await run(
      findPeer('spire-agent'),
      ['api', 'fetch', 'x509', '-socketPath', socket, '-timeout', '10s'],
      { timeout: 20_000 },
    );
    assert.match(stdout, /Received 1 svid/);
    assert.match(stdout, new RegExp(`SPIFFE ID:\\s+${ID}`));
  });
});

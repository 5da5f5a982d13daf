import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Server, ServerCredentials, type ServerWritableStream } from '@grpc/grpc-js';
import { type TempDir, findPeer, makeTempDir, makeTestCa } from '@parley/testing';
import { type X509SvidResponse, loadWorkloadApi } from './workload-api.js';

// The proto written from the SPIFFE spec must be wire-compatible with go-spiffe's client.
describe('Workload API proto', () => {
  let dir: TempDir;
  let server: Server;
  let socket: string;

  before(async () => {
    dir = await makeTempDir();
    socket = join(dir.path, 'agent.sock');
    const ca = await makeTestCa();
    const leaf = await ca.mintSvid('spiffe://example.org/workload', '10m');
    const response: X509SvidResponse = {
      svids: [
        {
          spiffe_id: 'spiffe://example.org/workload',
          x509_svid: Buffer.from(leaf.der),
          x509_svid_key: leaf.key.export({ type: 'pkcs8', format: 'der' }),
          bundle: Buffer.from(ca.root.raw),
          hint: 'test',
        },
      ],
      crl: [],
      federated_bundles: {},
    };
    server = new Server();
    server.addService(loadWorkloadApi().SpiffeWorkloadAPI.service, {
      FetchX509SVID: (call: ServerWritableStream<unknown, X509SvidResponse>) => {
        call.write(response);
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  });

  after(async () => {
    server.forceShutdown();
    await dir.remove();
  });

  it('go-spiffe fetches and verifies an X509-SVID served with it', async () => {
    const { stdout } = await promisify(execFile)(findPeer('go-spiffe-oracle'), [
      'fetch-x509',
      '--socket',
      `unix://${socket}`,
      '--timeout',
      '10s',
    ]);
    const out = JSON.parse(stdout) as {
      svids: { spiffeId: string; verified: boolean; hint: string }[];
      bundles: string[];
    };
    assert.equal(out.svids[0]?.spiffeId, 'spiffe://example.org/workload');
    assert.equal(out.svids[0]?.verified, true);
    assert.equal(out.svids[0]?.hint, 'test');
    assert.deepEqual(out.bundles, ['example.org']);
  });
});

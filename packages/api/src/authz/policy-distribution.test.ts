import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type ServerWritableStream,
  type StatusObject,
  Server,
  ServerCredentials,
  credentials,
  status,
} from '@grpc/grpc-js';
import { type TempDir, makeTempDir } from '@parley/testing';
import {
  AUTHZ_PROTO_PATH,
  MAX_POLICY_SNAPSHOT_BYTES,
  POLICY_DISTRIBUTION_CHANNEL_OPTIONS,
  type PolicyDistributionClient,
  type PolicySnapshotMessage,
  type WatchPoliciesRequestMessage,
  loadPolicyDistributionApi,
} from './policy-distribution.js';

/** Reads a server stream to its end: the messages and the final status. */
function readAll(
  client: PolicyDistributionClient,
): Promise<{ messages: PolicySnapshotMessage[]; status: StatusObject }> {
  return new Promise((resolve) => {
    const messages: PolicySnapshotMessage[] = [];
    const stream = client.WatchPolicies({}, { deadline: Date.now() + 10_000 });
    stream.on('data', (m: PolicySnapshotMessage) => messages.push(m));
    stream.on('error', () => undefined);
    stream.on('status', (s: StatusObject) => resolve({ messages, status: s }));
  });
}

describe('policy distribution API', () => {
  let dir: TempDir;
  let server: Server;
  let address: string;
  const big = 'x'.repeat(MAX_POLICY_SNAPSHOT_BYTES);

  before(async () => {
    dir = await makeTempDir('parley-authz-api-');
    address = `unix://${join(dir.path, 'authz.sock')}`;
    server = new Server();
    server.addService(loadPolicyDistributionApi().service, {
      WatchPolicies: (
        call: ServerWritableStream<WatchPoliciesRequestMessage, PolicySnapshotMessage>,
      ) => {
        call.write({ version: 'v1', snapshot_json: '{"a":1}' });
        call.write({ version: 'v2', snapshot_json: big });
        call.end();
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(address, ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  });

  after(async () => {
    server.forceShutdown();
    await dir.remove();
  });

  it('ships its proto beside the package (the `files` of package.json include proto/)', () => {
    assert.ok(existsSync(AUTHZ_PROTO_PATH), AUTHZ_PROTO_PATH);
  });

  it('streams snapshots of up to 16 MiB to a client with its channel options', async () => {
    const { Client } = loadPolicyDistributionApi();
    const client = new Client(
      address,
      credentials.createInsecure(),
      POLICY_DISTRIBUTION_CHANNEL_OPTIONS,
    );
    try {
      const { messages, status: s } = await readAll(client);
      assert.equal(s.code, status.OK);
      assert.deepEqual(messages[0], { version: 'v1', snapshot_json: '{"a":1}' });
      assert.equal(messages[1]?.version, 'v2');
      assert.equal(messages[1]?.snapshot_json.length, MAX_POLICY_SNAPSHOT_BYTES);
    } finally {
      client.close();
    }
  });

  it('is refused by a client without them (grpc-js receives 4 MiB by default)', async () => {
    const { Client } = loadPolicyDistributionApi();
    const client = new Client(address, credentials.createInsecure());
    try {
      const { messages, status: s } = await readAll(client);
      assert.equal(messages.length, 1);
      assert.equal(s.code, status.RESOURCE_EXHAUSTED);
    } finally {
      client.close();
    }
  });
});

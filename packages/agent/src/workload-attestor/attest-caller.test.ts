import {
  Client,
  Server,
  type ServerUnaryCall,
  type ServiceDefinition,
  credentials,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { makeTempDir } from '@parley/testing';
import assert from 'node:assert/strict';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listenUnixGrpc } from '../peer/listen-unix-grpc.js';
import { NOBODY, canSwitchUsers, startRelay } from '../peer/test-support.js';
import { attestCaller } from './attest-caller.js';
import { formatSelector } from './selector.js';
import { UnixAttestor } from './unix-attestor.js';
import type { WorkloadAttestation } from './workload-attestor.js';

const serialize = (value: unknown) => Buffer.from(JSON.stringify(value));
const deserialize = (bytes: Buffer) => JSON.parse(bytes.toString()) as unknown;
const ATTEST = '/parley.test.Attest/Attest';
const SERVICE: ServiceDefinition = {
  attest: {
    path: ATTEST,
    requestStream: false,
    responseStream: false,
    requestSerialize: serialize,
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
  },
};

function attest(client: Client): Promise<WorkloadAttestation> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(ATTEST, serialize, deserialize, {}, (error, value) =>
      error ? reject(error) : resolve(value as WorkloadAttestation),
    );
  });
}

describe('attestCaller', () => {
  it('attests each caller of a gRPC service on the agent socket', async () => {
    const dir = await makeTempDir();
    await chmod(dir.path, 0o777);
    const attestors = [new UnixAttestor({ discoverWorkloadPath: true, workloadSizeLimit: -1 })];
    const server = new Server();
    server.addService(SERVICE, {
      attest: (call: ServerUnaryCall<unknown, unknown>, done: sendUnaryData<unknown>) => {
        attestCaller(call, attestors).then(
          (outcome) => done(null, outcome),
          (error: Error) => done(error),
        );
      },
    });
    const path = join(dir.path, 'agent.sock');
    const listener = await listenUnixGrpc(server, path);
    const relay = canSwitchUsers()
      ? await startRelay(path, join(dir.path, 'relay.sock'), NOBODY)
      : undefined;
    const root = new Client(`unix://${path}`, credentials.createInsecure());
    const nobody = new Client(
      `unix://${join(dir.path, 'relay.sock')}`,
      credentials.createInsecure(),
    );
    try {
      const [mine, theirs] = await Promise.all([
        attest(root),
        relay === undefined ? undefined : attest(nobody),
      ]);
      assert.ok(mine.ok);
      const own = mine.selectors.map(formatSelector);
      assert.deepEqual(own.slice(0, 2), ['unix:uid:0', 'unix:user:root']);
      assert.ok(own.includes(`unix:path:${process.execPath}`));
      if (theirs !== undefined) {
        assert.ok(theirs.ok);
        assert.deepEqual(theirs.selectors.map(formatSelector), [
          'unix:uid:65534',
          'unix:user:nobody',
          'unix:gid:65534',
          'unix:group:nogroup',
          `unix:path:${process.execPath}`,
        ]);
      }
      const direct = await attestCaller({ getPeer: () => '127.0.0.1:5000' }, attestors);
      assert.deepEqual(direct, {
        ok: false,
        reason: 'the call did not arrive over an attested Unix socket',
      });
    } finally {
      root.close();
      nobody.close();
      await relay?.kill();
      await listener.close();
      server.forceShutdown();
      await dir.remove();
    }
  });
});

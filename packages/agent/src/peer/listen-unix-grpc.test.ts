import {
  Client,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  Server,
  ServerCredentials,
  credentials,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { isParleyError } from '@parley/core';
import { type TempDir, makeTempDir } from '@parley/testing';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { chmod, lstat, mkdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { listenUnixGrpc } from './listen-unix-grpc.js';
import { peerOf } from './peer-of.js';
import { NOBODY, canSwitchUsers, spawnNode, startRelay } from './test-support.js';

/** What the test service reports: the peer its handler saw (-1: none). */
interface Seen {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
  readonly alive: boolean;
  readonly seq: number;
}

const serialize = (value: unknown) => Buffer.from(JSON.stringify(value));
const deserialize = (bytes: Buffer) => JSON.parse(bytes.toString()) as unknown;
const codec = {
  requestSerialize: serialize,
  requestDeserialize: deserialize,
  responseSerialize: serialize,
  responseDeserialize: deserialize,
};
const WHO_AM_I = '/parley.test.Peer/WhoAmI';
const WATCH = '/parley.test.Peer/Watch';
const PEER_SERVICE: ServiceDefinition = {
  whoAmI: { path: WHO_AM_I, requestStream: false, responseStream: false, ...codec },
  watch: { path: WATCH, requestStream: false, responseStream: true, ...codec },
};

function seen(call: { getPeer(): string }, seq: number): Seen {
  const peer = peerOf(call);
  if (peer === undefined) return { pid: -1, uid: -1, gid: -1, alive: false, seq };
  return { pid: peer.pid, uid: peer.uid, gid: peer.gid, alive: peer.isAlive(), seq };
}

function testServer(): Server {
  const server = new Server();
  server.addService(PEER_SERVICE, {
    // Random small delays interleave the calls of different connections.
    whoAmI: (call: ServerUnaryCall<unknown, Seen>, callback: sendUnaryData<Seen>) => {
      setTimeout(() => callback(null, seen(call, 0)), Math.random() * 10);
    },
    watch: (call: ServerWritableStream<{ count: number }, Seen>) => {
      let seq = 0;
      const tick = () => {
        if (call.cancelled) return;
        if (seq === call.request.count) return void call.end();
        call.write(seen(call, seq++));
        setTimeout(tick, Math.random() * 10);
      };
      tick();
    },
  });
  return server;
}

function whoAmI(client: Client): Promise<Seen> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(WHO_AM_I, serialize, deserialize, {}, (error, value) =>
      error ? reject(error) : resolve(value as Seen),
    );
  });
}

async function watch(client: Client, count: number): Promise<Seen[]> {
  const stream = client.makeServerStreamRequest(WATCH, serialize, deserialize, { count });
  const all: Seen[] = [];
  for await (const message of stream) all.push(message as Seen);
  return all;
}

function clientOf(path: string): Client {
  return new Client(`unix://${path}`, credentials.createInsecure());
}

describe('listenUnixGrpc and peerOf', () => {
  let dir: TempDir;
  let n = 0;
  /** A fresh directory that every user may create sockets in. */
  const subdir = async () => {
    const path = join(dir.path, `${++n}`);
    await mkdir(path);
    await chmod(path, 0o777);
    return path;
  };
  before(async () => {
    dir = await makeTempDir();
    await chmod(dir.path, 0o755);
  });
  after(() => dir.remove());

  it('serves unary and streaming calls, each seeing its own caller under concurrency', async () => {
    const d = await subdir();
    const path = join(d, 'agent.sock');
    const server = testServer();
    const listener = await listenUnixGrpc(server, path);
    const relay = canSwitchUsers()
      ? await startRelay(path, join(d, 'relay.sock'), NOBODY)
      : undefined;
    const me = { pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() };
    const callers = [
      { client: clientOf(path), expect: me },
      { client: clientOf(path), expect: me },
      ...(relay === undefined
        ? []
        : [{ client: clientOf(join(d, 'relay.sock')), expect: { pid: relay.pid, ...NOBODY } }]),
    ];
    try {
      const results = await Promise.all(
        callers.flatMap(({ client, expect }) => [
          ...Array.from({ length: 15 }, async () => [[await whoAmI(client)], expect] as const),
          ...Array.from({ length: 3 }, async () => [await watch(client, 5), expect] as const),
        ]),
      );
      for (const [seenByHandler, expect] of results) {
        assert.ok(seenByHandler.length > 0);
        for (const s of seenByHandler) {
          assert.deepEqual(
            { pid: s.pid, uid: s.uid, gid: s.gid, alive: s.alive },
            {
              ...expect,
              alive: true,
            },
          );
        }
      }
      assert.equal(results.filter(([s]) => s.length === 5).length, callers.length * 3);
    } finally {
      for (const { client } of callers) client.close();
      await relay?.kill();
      await listener.close();
      server.forceShutdown();
    }
  });

  it('knows no peer for a call that did not come through it', async () => {
    const server = testServer();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      ),
    );
    const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      assert.equal((await whoAmI(client)).pid, -1);
      assert.equal(peerOf({ getPeer: () => 'unix-peer#0' }), undefined);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });

  it('replaces a stale socket, refuses a live one or another file, and sets the mode', async () => {
    const d = await subdir();
    const stale = join(d, 'stale.sock');
    // A server killed with SIGKILL leaves its socket file behind.
    const crashed = spawnNode(
      `require('node:net').createServer().listen(process.argv[1], () => console.log('up'))`,
      [stale],
    );
    await crashed.waitForLine('up');
    await crashed.kill();
    assert.ok((await lstat(stale)).isSocket());
    const server = testServer();
    const listener = await listenUnixGrpc(server, stale);
    const client = clientOf(stale);
    try {
      assert.equal((await whoAmI(client)).pid, process.pid);
      assert.equal((await stat(stale)).mode & 0o777, 0o777);
      await assert.rejects(
        listenUnixGrpc(server, stale),
        (e) =>
          isParleyError(e, 'failed-precondition') && /another process is serving/.test(e.message),
      );
    } finally {
      client.close();
      await listener.close();
    }
    await assert.rejects(lstat(stale), { code: 'ENOENT' }, 'close removes the socket file');

    const file = join(d, 'file');
    await writeFile(file, 'not a socket');
    await assert.rejects(
      listenUnixGrpc(server, file),
      (e) => isParleyError(e, 'failed-precondition') && /is not a socket/.test(e.message),
    );
    const privateSocket = join(d, 'private.sock');
    const restricted = await listenUnixGrpc(server, privateSocket, { mode: 0o600 });
    assert.equal((await stat(privateSocket)).mode & 0o777, 0o600);
    await restricted.close();
    await assert.rejects(listenUnixGrpc(server, privateSocket, { mode: 0o1777 }), RangeError);
    server.forceShutdown();
  });

  it('closes a connection once its peer has exited, though another process holds it', async () => {
    const d = await subdir();
    const path = join(d, 'agent.sock');
    const server = testServer();
    const listener = await listenUnixGrpc(server, path, { exitCheckIntervalMs: 20 });
    // The connecting process speaks HTTP/2 until the server answers, hands the socket to a child
    // that outlives it, and exits when told to.
    const holder = `
      const s = new (require('node:net').Socket)({ fd: 3, readable: true, writable: true });
      s.on('error', () => {});
      s.on('close', () => { console.log('closed'); process.exit(0); });
      s.resume();
      console.log('holding');
      setTimeout(() => { console.log('timeout'); process.exit(1); }, 8000);`;
    const connector = spawnNode(
      `
      const s = require('node:net').connect(process.argv[1]);
      s.on('connect', () => s.write(Buffer.concat([
        Buffer.from('PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])])));
      s.once('data', () => {
        s.pause();
        require('node:child_process').spawn(process.execPath, ['-e', process.argv[2]],
          { stdio: ['ignore', 'inherit', 'inherit', s] });
        process.stdin.once('data', () => process.exit(0));
      });`,
      [path, holder],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      await connector.waitForLine('holding');
      await delay(200);
      assert.equal(connector.hasLine('closed'), false, 'open while the connecting process runs');
      connector.child.stdin?.write('exit\n');
      await connector.exited();
      assert.equal(await connector.waitForLine('closed', 5000), 'closed');
    } finally {
      await connector.kill();
      await listener.close();
      server.forceShutdown();
    }
  });

  it('ends open calls and stops accepting on close', async () => {
    const d = await subdir();
    const path = join(d, 'agent.sock');
    const server = testServer();
    const listener = await listenUnixGrpc(server, path);
    const client = clientOf(path);
    try {
      const stream = client.makeServerStreamRequest(WATCH, serialize, deserialize, {
        count: 1_000_000,
      });
      await once(stream, 'data');
      const ended = new Promise<unknown>((resolve) => stream.on('error', resolve));
      stream.on('data', () => {});
      await listener.close();
      assert.match(String(await ended), /UNAVAILABLE|CANCELLED|closed/i);
      await assert.rejects(lstat(path), { code: 'ENOENT' });
      const probe = createServer().listen(path);
      await once(probe, 'listening'); // the path is free again
      probe.close();
    } finally {
      client.close();
      await listener.close();
      server.forceShutdown();
    }
  });
});

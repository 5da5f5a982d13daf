import { type TempDir, makeTempDir } from '@parley/testing';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { chmod, mkdir, open } from 'node:fs/promises';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readPeerCredentials } from './peer-credentials.js';
import { addonErrno, peercredAddon } from './peercred-addon.js';
import { CONNECT_AND_HOLD, NOBODY, canSwitchUsers, spawnNode } from './test-support.js';

const addon = peercredAddon();

function fdOf(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  assert.equal(typeof fd, 'number');
  return fd as number;
}

/** A Unix socket server in `dir` whose accepted sockets are handed out one by one. */
async function acceptingServer(dir: string): Promise<{
  path: string;
  server: Server;
  next: () => Promise<Socket>;
}> {
  await mkdir(dir);
  const path = join(dir, 'peer.sock');
  const accepted: Socket[] = [];
  const waiting: ((s: Socket) => void)[] = [];
  // Paused: a socket that never reads stays open after its peer exits.
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter(socket);
    else accepted.push(socket);
  });
  server.listen(path);
  await once(server, 'listening');
  await chmod(path, 0o777);
  return {
    path,
    server,
    next: () => {
      const ready = accepted.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no connection within 5 s')), 5000);
        waiting.push((s) => {
          clearTimeout(timer);
          resolve(s);
        });
      });
    },
  };
}

describe('peercred addon', () => {
  let dir: TempDir;
  let n = 0;
  before(async () => {
    dir = await makeTempDir();
    await chmod(dir.path, 0o755); // children running as nobody reach the sockets inside
  });
  after(() => dir.remove());
  const subdir = () => join(dir.path, `${++n}`);
  it('reports the connecting process: this test process over a Unix socket', async () => {
    const { path, server, next } = await acceptingServer(subdir());
    const client = connect(path);
    const socket = await next();
    try {
      const cred = addon.getPeerCred(fdOf(socket));
      assert.deepEqual(cred, {
        pid: process.pid,
        uid: process.getuid?.(),
        gid: process.getgid?.(),
      });
      // The client's side sees the server, which is this process too.
      await once(client, 'connect');
      assert.equal(addon.getPeerCred(fdOf(client)).pid, process.pid);
    } finally {
      client.destroy();
      socket.destroy();
      server.close();
    }
  });

  it('reports uid 65534 for a client running as nobody', { skip: !canSwitchUsers() }, async () => {
    const { path, server, next } = await acceptingServer(subdir());
    const child = spawnNode(CONNECT_AND_HOLD, [path], NOBODY);
    try {
      const socket = await next();
      const cred = readPeerCredentials(fdOf(socket));
      assert.deepEqual(
        { pid: cred.pid, uid: cred.uid, gid: cred.gid },
        { pid: child.pid, uid: 65534, gid: 65534 },
      );
      assert.equal(cred.isAlive(), true);
      await child.kill();
      assert.equal(cred.isAlive(), false, 'the pidfd sees the peer exit');
      cred.release();
      assert.equal(cred.isAlive(), false, 'a released handle is never alive');
      cred.release();
      socket.destroy();
    } finally {
      await child.kill();
      server.close();
    }
  });

  it('tells a peer that exited before its credentials were read', async () => {
    const { path, server, next } = await acceptingServer(subdir());
    const child = spawnNode(CONNECT_AND_HOLD, [path]);
    try {
      await child.waitForLine('connected');
      const socket = await next();
      await child.kill();
      const cred = readPeerCredentials(fdOf(socket));
      assert.equal(cred.pid, child.pid);
      assert.equal(cred.isAlive(), false);
      cred.release();
      socket.destroy();
    } finally {
      server.close();
    }
  });

  it('opens pidfds that detect an exited process', async () => {
    const child = spawnNode('setTimeout(() => {}, 20000); console.log("up")');
    await child.waitForLine('up');
    const pidfd = addon.pidfdOpen(child.pid);
    try {
      assert.equal(addon.pidfdIsAlive(pidfd), true);
      await child.kill();
      assert.equal(addon.pidfdIsAlive(pidfd), false);
    } finally {
      addon.closeFd(pidfd);
    }
  });

  it('fails with errno names the loader can read', async () => {
    // pid_max is at most 2^22: this pid cannot exist.
    assert.throws(
      () => addon.pidfdOpen(2 ** 30),
      (e) => addonErrno(e) === 'ESRCH',
    );
    const file = await open(join(dir.path, 'plain'), 'w');
    try {
      assert.throws(
        () => addon.getPeerCred(file.fd),
        (e) => addonErrno(e) === 'ENOTSOCK' && /SO_PEERCRED/.test((e as Error).message),
      );
    } finally {
      await file.close();
    }
    assert.throws(() => addon.getPeerCred(-1), TypeError);
    assert.equal(addonErrno(new Error('no errno')), undefined);
  });
});

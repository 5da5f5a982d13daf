import { isParleyError } from '@parley/core';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type Socket, createServer, connect } from 'node:net';
import { describe, it } from 'node:test';
import { readPeerCredentials } from './peer-credentials.js';
import { type PeercredAddon, peercredAddon } from './peercred-addon.js';

const real = peercredAddon();

function errnoError(name: 'ENOPROTOOPT' | 'EINVAL' | 'EPERM'): Error {
  const errno = { ENOPROTOOPT: 92, EINVAL: 22, EPERM: 1 }[name];
  return Object.assign(new Error(`SO_PEERPIDFD: ${name}`), { errno });
}

/** The real addon with SO_PEERPIDFD failing as `name`, counting pidfd_open calls. */
function withPeerPidfdFailing(name: 'ENOPROTOOPT' | 'EINVAL' | 'EPERM') {
  const calls = { pidfdOpen: 0 };
  const addon: PeercredAddon = {
    ...real,
    peerPidfd: () => {
      throw errnoError(name);
    },
    pidfdOpen: (pid) => {
      calls.pidfdOpen += 1;
      return real.pidfdOpen(pid);
    },
  };
  return { addon, calls };
}

/** A connected pair of Unix sockets in this process; the accepted side is returned first. */
async function socketPair(): Promise<[Socket, Socket, () => void]> {
  const server = createServer({ pauseOnConnect: true });
  // An abstract socket (Linux): nothing to clean up on disk.
  server.listen(`\0parley-peer-test-${process.pid}-${Math.random()}`);
  await once(server, 'listening');
  const client = connect(server.address() as string);
  const [accepted] = (await once(server, 'connection')) as [Socket];
  const close = () => {
    accepted.destroy();
    client.destroy();
    server.close();
  };
  return [accepted, client, close];
}

function fdOf(socket: Socket): number {
  return (socket as unknown as { _handle: { fd: number } })._handle.fd;
}

describe('readPeerCredentials', () => {
  it('holds a pidfd from SO_PEERPIDFD and releases it once', async () => {
    const [accepted, , close] = await socketPair();
    try {
      const cred = readPeerCredentials(fdOf(accepted));
      assert.equal(cred.pid, process.pid);
      assert.equal(cred.isAlive(), true);
      cred.release();
      cred.release();
      assert.equal(cred.isAlive(), false);
    } finally {
      close();
    }
  });

  it('falls back to pidfd_open(pid) on kernels without SO_PEERPIDFD', async () => {
    const [accepted, , close] = await socketPair();
    const { addon, calls } = withPeerPidfdFailing('ENOPROTOOPT');
    try {
      const cred = readPeerCredentials(fdOf(accepted), addon);
      assert.equal(calls.pidfdOpen, 1);
      assert.equal(cred.isAlive(), true);
      cred.release();
    } finally {
      close();
    }
  });

  it('takes EINVAL from SO_PEERPIDFD as a peer that is gone', async () => {
    const [accepted, , close] = await socketPair();
    const { addon, calls } = withPeerPidfdFailing('EINVAL');
    try {
      const cred = readPeerCredentials(fdOf(accepted), addon);
      assert.equal(calls.pidfdOpen, 0);
      assert.equal(cred.isAlive(), false);
    } finally {
      close();
    }
  });

  it('fails closed on an unexpected error', async () => {
    const [accepted, , close] = await socketPair();
    const { addon } = withPeerPidfdFailing('EPERM');
    try {
      assert.throws(
        () => readPeerCredentials(fdOf(accepted), addon),
        (e) => isParleyError(e, 'internal') && /pidfd/.test(e.message),
      );
      assert.throws(
        () => readPeerCredentials(0x7fffffff),
        (e) => isParleyError(e, 'internal') && /peer credentials/.test(e.message),
      );
    } finally {
      close();
    }
  });
});

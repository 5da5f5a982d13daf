import { type Server, ServerCredentials } from '@grpc/grpc-js';
import { ParleyError } from '@parley/core';
import { chmod, lstat, unlink } from 'node:fs/promises';
import { type Socket, connect, createServer } from 'node:net';
import { type HeldPeerCredentials, readPeerCredentials } from './peer-credentials.js';
import { registerPeer } from './peer-of.js';

/** Options of `listenUnixGrpc`. */
export interface ListenUnixGrpcOptions {
  /** Permission bits of the socket file; 0o777 by default (the general socket attests callers). */
  readonly mode?: number;
  /** How often to look for connections whose peer process has exited; 1000 ms by default. */
  readonly exitCheckIntervalMs?: number;
  /** Told about connections refused for want of credentials and about accept errors. */
  readonly onError?: (error: Error) => void;
}

/** A gRPC server's listener on a Unix socket. */
export interface UnixGrpcListener {
  /** The socket file's path. */
  readonly path: string;
  /** Stops accepting, closes every connection (calls in flight end) and removes the socket file. */
  close(): Promise<void>;
}

interface Connection {
  readonly socket: Socket;
  readonly credentials: HeldPeerCredentials;
}

/**
 * Serves `server` on the Unix socket `path`, knowing each connection's peer: every accepted socket
 * has its peer credentials read and a pidfd opened on the peer before gRPC sees a byte, then is
 * handed to grpc-js's connection injector. Handlers find the credentials with `peerOf(call)`.
 * A connection whose peer process has exited is closed (another process may hold the inherited
 * descriptor, and the pid may be reused): its clients reconnect and are attested afresh.
 */
export async function listenUnixGrpc(
  server: Server,
  path: string,
  options: ListenUnixGrpcOptions = {},
): Promise<UnixGrpcListener> {
  const mode = options.mode ?? 0o777;
  const interval = options.exitCheckIntervalMs ?? 1000;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new RangeError(`socket mode must be permission bits (0 to 0o777), got ${mode}`);
  }
  if (!Number.isInteger(interval) || interval < 1) {
    throw new RangeError(`exitCheckIntervalMs must be a positive integer, got ${interval}`);
  }
  const onError = options.onError ?? (() => {});
  await removeStaleSocket(path);

  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const connections = new Set<Connection>();
  const listener = createServer((socket) => {
    const connection = accept(socket, onError);
    if (connection === undefined) return;
    connections.add(connection);
    socket.once('close', () => connections.delete(connection));
    injector.injectConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(path, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  listener.on('error', onError);
  try {
    await chmod(path, mode);
  } catch (cause) {
    listener.close();
    injector.destroy();
    throw new ParleyError('internal', `cannot set the mode of socket ${path}`, { cause });
  }

  const sweep = setInterval(() => {
    for (const { socket, credentials } of connections) {
      if (!isAlive(credentials)) socket.destroy();
    }
  }, interval);
  sweep.unref();

  let closed: Promise<void> | undefined;
  return {
    path,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        clearInterval(sweep);
        listener.close(() => resolve());
        for (const { socket } of connections) socket.destroy();
        injector.destroy();
      })),
  };
}

/** Reads the peer of a fresh connection and names its socket for `peerOf`; undefined: refused. */
function accept(socket: Socket, onError: (error: Error) => void): Connection | undefined {
  socket.on('error', () => {}); // the gRPC session reports its own errors; never crash on one
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  let credentials: HeldPeerCredentials;
  try {
    if (typeof fd !== 'number' || fd < 0) {
      throw new ParleyError('internal', 'an accepted Unix socket has no file descriptor');
    }
    credentials = readPeerCredentials(fd);
  } catch (error) {
    socket.destroy();
    onError(error instanceof Error ? error : new Error(String(error)));
    return undefined;
  }
  if (!isAlive(credentials)) {
    // The peer exited before we could hold it: nothing it sends could be attested.
    credentials.release();
    socket.destroy();
    return undefined;
  }
  const peer = registerPeer(credentials);
  Object.defineProperty(socket, 'remoteAddress', { value: peer.name, configurable: true });
  socket.once('close', () => {
    peer.unregister();
    credentials.release();
  });
  return { socket, credentials };
}

function isAlive(credentials: HeldPeerCredentials): boolean {
  try {
    return credentials.isAlive();
  } catch {
    return false;
  }
}

/** Removes a socket file left by a previous run; refuses a live socket or a file of another kind. */
async function removeStaleSocket(path: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ParleyError('internal', `cannot inspect socket path ${path}`, { cause: error });
  }
  if (!stats.isSocket()) {
    throw new ParleyError(
      'failed-precondition',
      `cannot listen on ${path}: it exists and is not a socket`,
    );
  }
  if (await isServing(path)) {
    throw new ParleyError(
      'failed-precondition',
      `cannot listen on ${path}: another process is serving on it`,
    );
  }
  await unlink(path).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ParleyError('internal', `cannot remove stale socket ${path}`, { cause: error });
    }
  });
}

/** True when something accepts connections on the socket `path` (ECONNREFUSED: stale). */
function isServing(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') resolve(false);
      else reject(new ParleyError('internal', `cannot probe socket ${path}`, { cause: error }));
    });
  });
}

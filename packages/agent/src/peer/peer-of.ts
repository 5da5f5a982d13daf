import type { PeerCredentials } from './peer-credentials.js';

/** The part of a grpc-js server call (unary or streaming) that names its connection. */
export interface PeerNamedCall {
  getPeer(): string;
}

// Connections accepted by listenUnixGrpc, by the peer name given to their socket. A name is never
// reused in this process and cannot be mistaken for a TCP peer (`address:port`).
const connections = new Map<string, PeerCredentials>();
let nextConnection = 0;

/** A registered connection: the name its socket reports as `remoteAddress`, and its removal. */
export interface RegisteredPeer {
  readonly name: string;
  unregister(): void;
}

/** Registers one connection's credentials under a fresh peer name (used by listenUnixGrpc). */
export function registerPeer(credentials: PeerCredentials): RegisteredPeer {
  nextConnection += 1;
  const name = `unix-peer#${nextConnection}`;
  connections.set(name, credentials);
  return { name, unregister: () => connections.delete(name) };
}

/**
 * The peer credentials of the Unix-socket connection that carries `call`, or undefined when the
 * call came another way (or its connection has closed). Works in any unary or streaming handler.
 */
export function peerOf(call: PeerNamedCall): PeerCredentials | undefined {
  return connections.get(call.getPeer());
}

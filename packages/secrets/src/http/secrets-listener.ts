import {
  type IncomingMessage,
  type ServerResponse,
  createServer as createHttpServer,
} from 'node:http';
import { type Server as NetServer, type Socket, createServer as createNetServer } from 'node:net';
import {
  type SecureContextOptions,
  type TLSSocket,
  createServer as createTlsServer,
} from 'node:tls';
import { acceptListMethod, underlyingSocket } from './list-method.js';

/** The secrets listener once bound. */
export interface SecretsHttpListener {
  /** `host:port` actually bound. */
  readonly address: string;
  /** Replaces the TLS certificate and CAs (the server's SVID rotated); new connections use it. */
  setSecureContext(options: SecureContextOptions): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Bounds against slow or idle clients and oversized requests. */
const LIMITS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderSize: 16 * 1024,
  maxConnections: 4096,
} as const;

function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`invalid listen address "${address}"`);
  }
  return { host, port };
}

/**
 * Listens for the secrets API: HTTPS (TLS ≥ 1.2, a client certificate requested but not required
 * — callers may present a token instead) or plain HTTP, each connection wrapped by
 * `acceptListMethod` so that Vault's `LIST` reaches `handler` as `GET …?list=true`.
 */
export async function listenSecretsHttp(options: {
  readonly address: string;
  readonly tls?: SecureContextOptions;
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
}): Promise<SecretsHttpListener> {
  const http = createHttpServer(
    {
      headersTimeout: LIMITS.headersTimeoutMs,
      requestTimeout: LIMITS.requestTimeoutMs,
      keepAliveTimeout: LIMITS.keepAliveTimeoutMs,
      maxHeaderSize: LIMITS.maxHeaderSize,
    },
    options.handler,
  );
  const sockets = new Set<Socket>();
  const accept = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    // What Node's HTTP server does to its own sockets (small answers must not wait for ACKs).
    socket.setNoDelay(true);
    http.emit('connection', acceptListMethod(socket));
  };
  let server: NetServer;
  if (options.tls !== undefined) {
    const tls = createTlsServer({
      ...options.tls,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['http/1.1'],
      handshakeTimeout: LIMITS.headersTimeoutMs,
    });
    tls.on('secureConnection', (socket: TLSSocket) => {
      // A connection's client certificate never changes (TLS 1.2 renegotiation is refused).
      socket.disableRenegotiation();
      accept(socket);
    });
    tls.on('tlsClientError', (_err, socket) => socket.destroy());
    server = tls;
  } else {
    server = createNetServer(accept);
  }
  server.maxConnections = LIMITS.maxConnections;
  const { host, port } = splitAddress(options.address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const boundPort = typeof bound === 'object' && bound !== null ? bound.port : port;
  return {
    address: `${host.includes(':') ? `[${host}]` : host}:${boundPort}`,
    setSecureContext: (tlsOptions) => {
      if ('setSecureContext' in server)
        (server as { setSecureContext(o: SecureContextOptions): void }).setSecureContext(
          tlsOptions,
        );
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      http.closeAllConnections();
      await closed;
    },
  };
}

/**
 * The certificate a request's client presented (DER, as a one-element chain; [] when none). Only
 * the leaf is taken: intermediates come from the trust domain's own authorities, never from the
 * client.
 */
export function peerCertificateChain(req: IncomingMessage): Buffer[] {
  const socket = underlyingSocket(req.socket) as TLSSocket | undefined;
  if (socket === undefined || typeof socket.getPeerX509Certificate !== 'function') return [];
  // Renegotiation is disabled on every connection, so its certificate is read once.
  let chain = peerChains.get(socket);
  if (chain === undefined) {
    const leaf = socket.getPeerX509Certificate();
    chain = leaf === undefined ? [] : [leaf.raw];
    peerChains.set(socket, chain);
  }
  return chain;
}

const peerChains = new WeakMap<TLSSocket, Buffer[]>();

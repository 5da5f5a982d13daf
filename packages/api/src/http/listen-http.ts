import {
  type IncomingMessage,
  type ServerResponse,
  createServer as createHttpServer,
} from 'node:http';
import { type Server as NetServer, type Socket, createServer as createNetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type SecureContextOptions,
  type TLSSocket,
  createServer as createTlsServer,
} from 'node:tls';

/** An HTTP listener once bound. */
export interface HttpListener {
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
 * Listens for an HTTP/1.1 API: HTTPS (TLS ≥ 1.2, a client certificate requested but not
 * required, renegotiation refused so a connection's certificate never changes) or plain HTTP,
 * with timeouts against slow clients, bounded headers and connections. `wrapSocket` may replace
 * each accepted socket before the HTTP parser sees it.
 */
export async function listenHttp(options: {
  readonly address: string;
  readonly tls?: SecureContextOptions;
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  readonly wrapSocket?: (socket: Socket) => Duplex;
}): Promise<HttpListener> {
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
    http.emit('connection', options.wrapSocket?.(socket) ?? socket);
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

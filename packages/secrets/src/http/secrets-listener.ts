import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { type HttpListener, listenHttp } from '@parley/api';
import { acceptListMethod, underlyingSocket } from './list-method.js';

/** The secrets listener once bound. */
export type SecretsHttpListener = HttpListener;

/**
 * Listens for the secrets API with `listenHttp`, each connection wrapped by `acceptListMethod`
 * so that Vault's `LIST` reaches `handler` as `GET …?list=true`.
 */
export function listenSecretsHttp(options: {
  readonly address: string;
  readonly tls?: SecureContextOptions;
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
}): Promise<SecretsHttpListener> {
  return listenHttp({ ...options, wrapSocket: acceptListMethod });
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

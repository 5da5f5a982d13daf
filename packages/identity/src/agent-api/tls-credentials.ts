import { type ServerCredentials, experimental } from '@grpc/grpc-js';
import { encodePem } from '@parley/core';

type CaListener = (update: { caCertificate: Buffer } | null) => void;
type IdentityListener = (update: { certificate: Buffer; privateKey: Buffer } | null) => void;

/**
 * TLS material for a gRPC server that changes at run time: the server's own SVID (rotated) and
 * the CA certificates it asks clients for (the bundle). grpc-js rebuilds its secure context on
 * every update, so rotation needs no restart.
 */
export class RotatingTlsMaterial implements experimental.CertificateProvider {
  #ca: { caCertificate: Buffer } | null = null;
  #identity: { certificate: Buffer; privateKey: Buffer } | null = null;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();

  /** Sets the server's certificate chain (DER, leaf first) and PKCS#8 private key (DER). */
  setIdentity(certChain: readonly Uint8Array[], privateKeyPkcs8: Uint8Array): void {
    this.#identity = {
      certificate: Buffer.from(certChain.map((c) => encodePem('CERTIFICATE', c)).join('')),
      privateKey: Buffer.from(encodePem('PRIVATE KEY', privateKeyPkcs8)),
    };
    for (const l of this.#identityListeners) l(this.#identity);
  }

  /** Sets the CA certificates (DER) clients' certificates are requested against. */
  setCaCertificates(certs: readonly Uint8Array[]): void {
    this.#ca = {
      caCertificate: Buffer.from(certs.map((c) => encodePem('CERTIFICATE', c)).join('')),
    };
    for (const l of this.#caListeners) l(this.#ca);
  }

  // grpc-js subscribes before it registers the watcher that applies updates, so the current
  // material is delivered on the next tick rather than during the subscription.
  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    queueMicrotask(() => this.#caListeners.has(listener) && listener(this.#ca));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    queueMicrotask(() => this.#identityListeners.has(listener) && listener(this.#identity));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }
}

/**
 * Server credentials that request a client certificate but do not let TLS reject it: the agent
 * API authenticates each call itself against the current bundle, and attestation happens before
 * an agent has a certificate at all.
 */
export function agentApiServerCredentials(material: RotatingTlsMaterial): ServerCredentials {
  // The same provider serves both roles, so grpc-js's argument order does not matter.
  return experimental.createCertificateProviderServerCredentials(material, material, false);
}

import { X509Certificate, createHash, randomBytes, verify } from 'node:crypto';
import { type Clock, type TrustDomain, parseSpiffeId } from '@parley/core';
import type { Selector } from '../entries/registration-entry.js';
import type { NodeAttestation, NodeAttestor } from './node-attestor.js';
import { decodeX509popPayload, x509popSigningInput } from '@parley/api';

/**
 * The `x509pop` node attestor (X.509 proof of possession): the agent presents a certificate chain
 * (DER certificates, each prefixed by a 4-byte big-endian length) that must chain to one of the
 * configured CA certificates, then signs a random challenge with the leaf's key. The agent ID is
 * `spiffe://<td>/parley/agent/x509pop/<sha1 fingerprint of the leaf>`.
 */
export function x509popAttestor(deps: {
  trustDomain: TrustDomain;
  caCertificates: readonly X509Certificate[];
  clock: Clock;
}): NodeAttestor {
  return {
    type: 'x509pop',
    async attest(payload, challenge): Promise<NodeAttestation> {
      const chain = splitChain(payload);
      if (chain === undefined)
        return { ok: false, reason: 'x509pop payload is malformed or its chain too long' };
      const leaf = chain[0];
      if (leaf === undefined) return { ok: false, reason: 'x509pop payload has no certificate' };
      const problem = verifyChain(chain, deps.caCertificates, deps.clock.now());
      if (problem !== undefined) return { ok: false, reason: `x509pop chain rejected: ${problem}` };

      const nonce = randomBytes(32);
      const response = await challenge(nonce);
      let ok = false;
      try {
        ok = verify('sha256', x509popSigningInput(nonce), leaf.publicKey, response);
      } catch {
        ok = false;
      }
      if (!ok)
        return {
          ok: false,
          reason: 'x509pop challenge response does not verify with the leaf key',
        };

      const fingerprint = leaf.fingerprint.replaceAll(':', '').toLowerCase();
      const selectors: Selector[] = [
        { type: 'x509pop', value: `serialnumber:${leaf.serialNumber.toLowerCase()}` },
      ];
      const cn = /(?:^|\n)CN=([^\n]*)/.exec(leaf.subject)?.[1];
      if (cn !== undefined) selectors.push({ type: 'x509pop', value: `subject:cn:${cn}` });
      for (const ca of chain.slice(1)) {
        selectors.push({
          type: 'x509pop',
          value: `ca:fingerprint:${ca.fingerprint.replaceAll(':', '').toLowerCase()}`,
        });
      }
      return {
        ok: true,
        agentId: parseSpiffeId(
          `${deps.trustDomain.idString()}/parley/agent/x509pop/${fingerprint}`,
        ),
        selectors,
      };
    },
  };
}

function splitChain(payload: Uint8Array): X509Certificate[] | undefined {
  const ders = decodeX509popPayload(payload);
  try {
    return ders?.map((der) => new X509Certificate(der));
  } catch {
    return undefined;
  }
}

function verifyChain(
  chain: readonly X509Certificate[],
  roots: readonly X509Certificate[],
  now: number,
): string | undefined {
  for (const cert of chain) {
    if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo))
      return 'a certificate is outside its validity period';
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i] as X509Certificate;
    const parent = chain[i + 1] as X509Certificate;
    if (!parent.ca || !child.checkIssued(parent) || !child.verify(parent.publicKey))
      return 'the presented chain does not link up';
  }
  const top = chain[chain.length - 1] as X509Certificate;
  const anchored = roots.some((root) => {
    if (top.fingerprint256 === root.fingerprint256) return true;
    return (
      root.ca &&
      top.checkIssued(root) &&
      top.verify(root.publicKey) &&
      now >= Date.parse(root.validFrom) &&
      now <= Date.parse(root.validTo)
    );
  });
  return anchored ? undefined : 'the chain does not end at a configured CA';
}

/** Fingerprint helper for tests and selectors: SHA-1 of DER, lowercase hex. */
export function sha1Hex(der: Uint8Array): string {
  return createHash('sha1').update(der).digest('hex');
}

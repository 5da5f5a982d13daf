import { X509Certificate, createHash, randomBytes, verify } from 'node:crypto';
import { type Clock, type TrustDomain, parseSpiffeId } from '@parley/core';
import type { Selector } from '../entries/registration-entry.js';
import type { NodeAttestation, NodeAttestor } from './node-attestor.js';

/** Chains longer than this are refused before any signature is checked. */
export const MAX_X509POP_CHAIN = 8;

/** Domain separation for the proof-of-possession signature. */
const CONTEXT = Buffer.from('parley x509pop v1\0');

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
        ok = verify('sha256', Buffer.concat([CONTEXT, nonce]), leaf.publicKey, response);
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

/** The signature an agent answers an x509pop challenge with. */
export function signX509popChallenge(sign: (data: Buffer) => Buffer, nonce: Uint8Array): Buffer {
  return sign(Buffer.concat([CONTEXT, nonce]));
}

/** Encodes a chain as the x509pop payload (length-prefixed DER certificates). */
export function encodeX509popPayload(chain: readonly Uint8Array[]): Buffer {
  return Buffer.concat(
    chain.flatMap((der) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(der.length);
      return [len, Buffer.from(der)];
    }),
  );
}

function splitChain(payload: Uint8Array): X509Certificate[] | undefined {
  const buf = Buffer.from(payload);
  const out: X509Certificate[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (out.length >= MAX_X509POP_CHAIN || pos + 4 > buf.length) return undefined;
    const len = buf.readUInt32BE(pos);
    pos += 4;
    if (len === 0 || pos + len > buf.length) return undefined;
    try {
      out.push(new X509Certificate(buf.subarray(pos, pos + len)));
    } catch {
      return undefined;
    }
    pos += len;
  }
  return out;
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

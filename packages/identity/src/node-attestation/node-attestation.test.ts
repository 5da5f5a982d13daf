import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  type SpiffeId,
  X509Minter,
  fixedClock,
  generateKey,
  keyObjectSigner,
  mintSelfSignedRoot,
  parseCertificate,
  parseDuration,
  parseSpiffeId,
  parseTrustDomain,
  systemClock,
} from '@parley/core';
import { joinTokenAttestor, newJoinToken } from './join-token.js';
import { encodeX509popPayload, x509popSigningInput } from '@parley/api';
import { x509popAttestor } from './x509pop.js';

const td = parseTrustDomain('example.org');

function memoryTokens() {
  const tokens = new Map<string, { agentId: SpiffeId; expiresAt: number }>();
  return {
    tokens,
    consumeJoinToken: async (token: string, now: number) => {
      const t = tokens.get(token);
      tokens.delete(token);
      return t !== undefined && t.expiresAt > now ? { agentId: t.agentId } : undefined;
    },
  };
}

describe('join_token attestor', () => {
  it('attests once with a valid token and never again', async () => {
    const store = memoryTokens();
    const { token, agentId } = newJoinToken(td);
    assert.ok(!agentId.toString().includes(token), 'the token is never path material');
    store.tokens.set(token, { agentId, expiresAt: Date.now() + 60_000 });
    const attestor = joinTokenAttestor({ store, clock: systemClock });
    const first = await attestor.attest(Buffer.from(token), () =>
      Promise.reject(new Error('no challenge')),
    );
    assert.equal(first.ok && first.agentId.toString(), agentId.toString());
    const second = await attestor.attest(Buffer.from(token), () =>
      Promise.reject(new Error('no challenge')),
    );
    assert.equal(second.ok, false);
  });

  it('rejects expired and malformed tokens without echoing them', async () => {
    const store = memoryTokens();
    const { token, agentId } = newJoinToken(td);
    store.tokens.set(token, { agentId, expiresAt: 1000 });
    const attestor = joinTokenAttestor({ store, clock: fixedClock(2000) });
    const expired = await attestor.attest(Buffer.from(token), () => Promise.reject(new Error()));
    assert.ok(!expired.ok && !expired.reason.includes(token));
    const bad = await attestor.attest(Buffer.from('../../etc/passwd'), () =>
      Promise.reject(new Error()),
    );
    assert.equal(bad.ok, false);
  });
});

describe('x509pop attestor', async () => {
  const caSigner = keyObjectSigner(generateKey('ec-p256'));
  const caTd = parseTrustDomain('nodes.example');
  const ca = parseCertificate(
    (
      await mintSelfSignedRoot(
        caSigner,
        { trustDomain: caTd, ttl: parseDuration('1h') },
        systemClock,
      )
    ).der,
  );
  const nodeKey = generateKey('ec-p256');
  const leaf = await new X509Minter({ signer: caSigner, certificate: ca }, systemClock).mintSvid({
    spiffeId: parseSpiffeId('spiffe://nodes.example/node-1'),
    publicKey: createPublicKey(nodeKey),
    ttl: parseDuration('30m'),
    dnsNames: ['node-1'],
  });
  const attestor = x509popAttestor({
    trustDomain: td,
    caCertificates: [new X509Certificate(ca.raw)],
    clock: systemClock,
  });
  const answer = (nonce: Uint8Array) =>
    Promise.resolve(sign('sha256', x509popSigningInput(nonce), nodeKey));

  it('attests a node holding the key of a certificate issued by the configured CA', async () => {
    const r = await attestor.attest(encodeX509popPayload([leaf.der]), answer);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.match(
      r.agentId.toString(),
      /^spiffe:\/\/example\.org\/parley\/agent\/x509pop\/[0-9a-f]{40}$/,
    );
    assert.ok(r.selectors.some((s) => s.value === 'subject:cn:node-1'));
  });

  it('rejects a wrong key, an unknown CA and malformed payloads', async () => {
    const otherKey = generateKey('ec-p256');
    const wrong = await attestor.attest(encodeX509popPayload([leaf.der]), (n) =>
      Promise.resolve(sign('sha256', x509popSigningInput(n), otherKey)),
    );
    assert.equal(wrong.ok, false);
    const stranger = x509popAttestor({ trustDomain: td, caCertificates: [], clock: systemClock });
    assert.equal((await stranger.attest(encodeX509popPayload([leaf.der]), answer)).ok, false);
    assert.equal((await attestor.attest(Buffer.from([0, 0, 0, 9, 1, 2]), answer)).ok, false);
    const tooLong = encodeX509popPayload(Array.from({ length: 9 }, () => leaf.der));
    assert.equal((await attestor.attest(tooLong, answer)).ok, false);
  });
});

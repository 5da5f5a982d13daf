import assert from 'node:assert/strict';
import { type KeyObject, createPublicKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  X509Minter,
  durationMs,
  encodePem,
  fixedClock,
  generateKey,
  isParleyError,
  keyObjectSigner,
  mintSelfSignedRoot,
  parseCertificate,
  parseSpiffeId,
  parseTrustDomain,
} from '@parley/core';
import { makeTempDir } from '@parley/testing';
import { loadUpstreamAuthority, parseUpstreamAuthority } from './upstream-authority.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2030, 0, 1);
const clock = fixedClock(T0);
const td = parseTrustDomain('enterprise-root.example');

async function pki() {
  const rootKey = generateKey('ec-p256');
  const root = await mintSelfSignedRoot(
    keyObjectSigner(rootKey),
    { trustDomain: td, ttl: durationMs(DAY) },
    clock,
  );
  const intKey = generateKey('ec-p256');
  const minter = new X509Minter(
    { signer: keyObjectSigner(rootKey), certificate: parseCertificate(root.der) },
    clock,
  );
  const int = await minter.mintSigningCertificate({
    trustDomain: td,
    publicKey: createPublicKey(intKey),
    ttl: durationMs(DAY / 2),
  });
  const leaf = await minter.mintSvid({
    spiffeId: parseSpiffeId('spiffe://enterprise-root.example/w'),
    publicKey: createPublicKey(intKey),
    ttl: durationMs(DAY / 2),
  });
  const pem = (key: KeyObject) => key.export({ format: 'pem', type: 'pkcs8' }).toString();
  return {
    rootKey,
    root,
    intKey,
    int,
    leaf,
    pem,
    cert: (der: Uint8Array) => encodePem('CERTIFICATE', der),
  };
}

function rejectsWith(fn: () => unknown, pattern: RegExp, secret?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isParleyError(err, 'invalid-argument'), String(err));
    assert.match(err.message, pattern);
    if (secret !== undefined) assert.ok(!err.message.includes(secret));
    return true;
  });
}

describe('parseUpstreamAuthority', () => {
  it('accepts a root alone, or an intermediate followed by its root', async () => {
    const p = await pki();
    const rootOnly = parseUpstreamAuthority(p.pem(p.rootKey), p.cert(p.root.der), clock);
    assert.equal(rootOnly.chain.length, 1);
    assert.equal(
      rootOnly.id,
      Buffer.from(parseCertificate(p.root.der).subjectKeyId ?? []).toString('hex'),
    );
    const nested = parseUpstreamAuthority(
      p.pem(p.intKey),
      p.cert(p.int.der) + p.cert(p.root.der),
      clock,
    );
    assert.equal(nested.chain.length, 2);
    assert.ok(nested.signer.publicKey.equals(createPublicKey(p.intKey)));
  });

  it('refuses broken key or chain files with messages that never quote the key', async () => {
    const p = await pki();
    const key = p.pem(p.rootKey);
    const body = key.split('\n')[1] ?? '';
    rejectsWith(
      () => parseUpstreamAuthority('not a key', p.cert(p.root.der), clock),
      /expected exactly one PEM private key/,
    );
    rejectsWith(
      () =>
        parseUpstreamAuthority(
          key.replace(body, body.slice(0, -4) + '!!!!'),
          p.cert(p.root.der),
          clock,
        ),
      /key: expected exactly one PEM private key/,
      body,
    );
    rejectsWith(
      () => parseUpstreamAuthority(key + key, p.cert(p.root.der), clock),
      /exactly one PEM private key/,
    );
    rejectsWith(() => parseUpstreamAuthority(key, '', clock), /no CERTIFICATE block found/);
    rejectsWith(
      () => parseUpstreamAuthority(p.pem(p.intKey), p.cert(p.root.der), clock),
      /does not match the first certificate/,
      body,
    );
    rejectsWith(
      () => parseUpstreamAuthority(p.pem(p.intKey), p.cert(p.int.der), clock),
      /must end with the self-signed root/,
    );
    rejectsWith(
      () => parseUpstreamAuthority(key, p.cert(p.root.der) + p.cert(p.int.der), clock),
      /certificate 0 is not signed by certificate 1/,
    );
    rejectsWith(
      () => parseUpstreamAuthority(p.pem(p.intKey), p.cert(p.leaf.der) + p.cert(p.root.der), clock),
      /cannot sign CA certificates/,
    );
    rejectsWith(
      () => parseUpstreamAuthority(key, p.cert(p.root.der), fixedClock(T0 + 2 * DAY)),
      /certificate 0 has expired/,
    );
    rejectsWith(
      () =>
        parseUpstreamAuthority(
          p.pem(p.intKey),
          p.cert(p.int.der) + p.cert(p.root.der),
          fixedClock(T0 + DAY - 1000),
        ),
      /certificate 0 has expired/,
    );
  });
});

describe('loadUpstreamAuthority', () => {
  it('reads the key and chain files and names them in errors', async () => {
    await using tmp = await makeTempDir();
    const p = await pki();
    const keyFile = join(tmp.path, 'ca.key');
    const certChainFile = join(tmp.path, 'ca.pem');
    await writeFile(keyFile, p.pem(p.rootKey), { mode: 0o600 });
    await writeFile(certChainFile, p.cert(p.root.der));
    const upstream = await loadUpstreamAuthority({ keyFile, certChainFile }, clock);
    assert.equal(upstream.chain.length, 1);
    await writeFile(certChainFile, p.cert(p.int.der));
    await assert.rejects(
      loadUpstreamAuthority({ keyFile, certChainFile }, clock),
      new RegExp(
        `upstream authority ${keyFile}: does not match the first certificate of ${certChainFile}`,
      ),
    );
    await assert.rejects(
      loadUpstreamAuthority({ keyFile: join(tmp.path, 'missing.key'), certChainFile }, clock),
      /cannot read upstream authority key file .*missing\.key/,
    );
  });
});

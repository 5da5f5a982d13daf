import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateKey, keyObjectSigner } from '../crypto/signer.js';
import { spkiOf } from '../crypto/spki.js';
import { isParleyError } from '../errors.js';
import { encodePem } from '../pem/pem.js';
import { mintCertificateRequest, parseCertificateRequest } from './csr.js';

describe('PKCS#10 certificate requests', () => {
  for (const type of ['ec-p256', 'ec-p384', 'rsa-2048'] as const) {
    it(`${type}: minted, verified by openssl, parsed back to the same key`, async () => {
      const signer = keyObjectSigner(generateKey(type));
      const der = await mintCertificateRequest(signer);
      const dir = mkdtempSync(join(tmpdir(), 'csr-'));
      try {
        writeFileSync(join(dir, 'req.pem'), encodePem('CERTIFICATE REQUEST', der));
        const out = execFileSync(
          'openssl',
          ['req', '-in', join(dir, 'req.pem'), '-noout', '-verify'],
          {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        assert.doesNotMatch(out, /fail/i);
      } finally {
        rmSync(dir, { recursive: true });
      }
      assert.deepEqual(
        Buffer.from(parseCertificateRequest(der).subjectPublicKeyInfo),
        Buffer.from(spkiOf(signer.publicKey)),
      );
    });
  }

  it('rejects a request whose signature does not match its key', async () => {
    const der = Buffer.from(await mintCertificateRequest(keyObjectSigner(generateKey('ec-p256'))));
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 1;
    assert.throws(
      () => parseCertificateRequest(der),
      (e) => isParleyError(e, 'invalid-argument'),
    );
  });

  it('rejects garbage and oversized input', () => {
    assert.throws(
      () => parseCertificateRequest(Buffer.from('not a csr')),
      (e) => isParleyError(e, 'invalid-argument'),
    );
    assert.throws(
      () => parseCertificateRequest(new Uint8Array(20000)),
      (e) => isParleyError(e, 'invalid-argument'),
    );
  });
});

import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  type Bundle,
  type KeyType,
  JwtSvidMinter,
  X509Minter,
  formatBundle,
  generateKey,
  keyObjectSigner,
  parseCertificate,
  parseDuration,
  parseSpiffeId,
  parseTrustDomain,
  systemClock,
} from '@parley/core';
import { type OracleCase, makeTestCa, runGoSpiffeOracle } from '@parley/testing';

// STYLE rule 3 seen from outside: what core mints must pass go-spiffe, the verifier clients run.
describe('what @parley/core mints passes go-spiffe', () => {
  for (const keyType of ['ec-p256', 'ec-p384', 'rsa-2048'] as const satisfies readonly KeyType[]) {
    it(`${keyType}: root, intermediate, leaf X509-SVID, JWT-SVID and the bundle`, async () => {
      const td = parseTrustDomain('example.org');
      const ca = await makeTestCa({ keyType });
      const { root, signer: rootSigner } = ca;
      const intSigner = keyObjectSigner(generateKey('ec-p256'));
      const intermediate = await ca.minter.mintSigningCertificate({
        trustDomain: td,
        publicKey: intSigner.publicKey,
        ttl: parseDuration('12h'),
      });
      const leafMinter = new X509Minter(
        { signer: intSigner, certificate: parseCertificate(intermediate.der) },
        systemClock,
      );
      const leaf = await leafMinter.mintSvid({
        spiffeId: parseSpiffeId('spiffe://example.org/ns/prod/sa/web'),
        publicKey: createPublicKey(generateKey(keyType)),
        ttl: parseDuration('1h'),
        dnsNames: ['web.prod.svc'],
      });
      const direct = await ca.mintSvid('spiffe://example.org/direct');
      const jwt = await new JwtSvidMinter({ signer: rootSigner, keyId: 'key-1' }, systemClock).mint(
        {
          spiffeId: parseSpiffeId('spiffe://example.org/ns/prod/sa/web'),
          audience: ['spiffe://example.org/backend'],
          ttl: parseDuration('5m'),
        },
      );
      const bundle: Bundle = {
        trustDomain: td,
        x509Authorities: [root],
        jwtAuthorities: new Map([['key-1', rootSigner.publicKey]]),
        sequenceNumber: 18446744073709551615n,
        refreshHint: 300,
      };
      const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64');
      const now = new Date().toISOString();
      const cases: OracleCase[] = [
        {
          id: 'leaf',
          kind: 'x509-svid',
          chain: [b64(leaf.der), b64(intermediate.der)],
          bundle: { trustDomain: td.name, authorities: [b64(root.raw)] },
          now,
        },
        {
          id: 'direct',
          kind: 'x509-svid',
          chain: [b64(direct.der)],
          bundle: { trustDomain: td.name, authorities: [b64(root.raw)] },
          now,
        },
        {
          id: 'jwt',
          kind: 'jwt-svid',
          token: jwt.token,
          bundle: { trustDomain: td.name, json: formatBundle(bundle) },
          audience: ['spiffe://example.org/backend'],
          now,
        },
        { id: 'bundle', kind: 'bundle', trustDomain: td.name, json: formatBundle(bundle) },
      ];
      const verdicts = await runGoSpiffeOracle(cases);
      for (const c of cases)
        assert.equal(verdicts.get(c.id)?.valid, true, `${c.id}: ${verdicts.get(c.id)?.error}`);
      assert.equal(
        verdicts.get('leaf')?.result?.['spiffeId'],
        'spiffe://example.org/ns/prod/sa/web',
      );
      assert.equal(verdicts.get('bundle')?.result?.['sequenceNumber'], '18446744073709551615');
      assert.deepEqual(verdicts.get('bundle')?.result?.['jwtAuthorities'], ['key-1']);
    });
  }
});

import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type Clock,
  durationMs,
  encodePem,
  formatBundle,
  generateKey,
  keyObjectSigner,
  mintSelfSignedRoot,
  parseSpiffeId,
  parseTrustDomain,
} from '@parley/core';
import { type OracleCase, makeTempDir, runGoSpiffeOracle } from '@parley/testing';
import { MemoryKeyManager } from '../key-manager/memory-key-manager.js';
import { MemoryAuthorityJournal } from './authority-journal.js';
import { Ca } from './ca.js';
import { loadUpstreamAuthority } from './upstream-authority.js';

const HOUR = 3_600_000;
const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64');

class FakeClock implements Clock {
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
}

describe('Ca against go-spiffe', () => {
  it('mints X509-SVIDs (self-signed and under an upstream) and JWT-SVIDs that go-spiffe accepts', async () => {
    await using tmp = await makeTempDir();
    // go-spiffe judges JWT-SVIDs against the real clock: the CA runs at the real time.
    const clock = new FakeClock(Math.floor(Date.now() / 1000) * 1000);
    const now = new Date(clock.t + 60_000).toISOString();
    const td = parseTrustDomain('example.org');
    const workload = parseSpiffeId('spiffe://example.org/oracle');
    const deps = () => ({
      keyManager: new MemoryKeyManager(),
      journal: new MemoryAuthorityJournal(),
      clock,
    });
    const leafKey = createPublicKey(generateKey('ec-p256'));

    const selfSigned = await Ca.open({ trustDomain: td, x509: { keyType: 'ec-p384' } }, deps());
    // Rotate once, so the bundle holds two roots and the SVID comes from the second.
    assert.ok((await selfSigned.prepare('x509')).ok);
    assert.ok((await selfSigned.activate('x509')).ok);
    const svid = await selfSigned.mintX509Svid({
      spiffeId: workload,
      publicKey: leafKey,
      ttl: durationMs(HOUR),
    });
    const jwt = await selfSigned.mintJwtSvid({
      spiffeId: workload,
      audience: ['oracle'],
      ttl: durationMs(HOUR),
    });

    const upstreamKey = generateKey('ec-p256');
    const upstreamRoot = await mintSelfSignedRoot(
      keyObjectSigner(upstreamKey),
      { trustDomain: parseTrustDomain('enterprise-root.example'), ttl: durationMs(24 * HOUR) },
      clock,
    );
    const keyFile = join(tmp.path, 'up.key');
    const certChainFile = join(tmp.path, 'up.pem');
    await writeFile(keyFile, upstreamKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    await writeFile(certChainFile, encodePem('CERTIFICATE', upstreamRoot.der));
    const upstream = await loadUpstreamAuthority({ keyFile, certChainFile }, clock);
    const nested = await Ca.open(
      { trustDomain: td, upstream, x509: { keyType: 'rsa-2048' } },
      deps(),
    );
    const nestedSvid = await nested.mintX509Svid({
      spiffeId: workload,
      publicKey: leafKey,
      ttl: durationMs(HOUR),
    });

    const cases: OracleCase[] = [
      {
        id: 'self-signed',
        kind: 'x509-svid',
        chain: svid.certChain.map(b64),
        bundle: {
          trustDomain: td.name,
          authorities: selfSigned.bundle().x509Authorities.map((c) => b64(c.raw)),
        },
        now,
      },
      {
        id: 'upstream',
        kind: 'x509-svid',
        chain: nestedSvid.certChain.map(b64),
        bundle: {
          trustDomain: td.name,
          authorities: nested.bundle().x509Authorities.map((c) => b64(c.raw)),
        },
        now,
      },
      {
        id: 'jwt',
        kind: 'jwt-svid',
        token: jwt.token,
        bundle: { trustDomain: td.name, json: formatBundle(selfSigned.bundle()) },
        audience: ['oracle'],
        now,
      },
      {
        id: 'bundle',
        kind: 'bundle',
        trustDomain: td.name,
        json: formatBundle(selfSigned.bundle()),
      },
    ];
    const verdicts = await runGoSpiffeOracle(cases);
    for (const c of cases) {
      const v = verdicts.get(c.id);
      assert.equal(v?.valid, true, `${c.id}: ${v?.error ?? 'no verdict'}`);
    }
    assert.equal(verdicts.get('self-signed')?.result?.['spiffeId'], workload.toString());
    assert.equal(verdicts.get('jwt')?.result?.['spiffeId'], workload.toString());
    assert.equal(verdicts.get('bundle')?.result?.['x509Authorities'], 2);
  });
});

// bench/mint: X509-SVIDs and JWT-SVIDs minted per second by @parley/core, each printed with its
// ratio to the raw P-256 signature rate measured in the same run (node:crypto signing a
// certificate-sized message with a KeyObject; `openssl speed ecdsap256` is printed beside it).
import { execFileSync } from 'node:child_process';
import { createPublicKey, sign } from 'node:crypto';
import {
  JwtSvidMinter,
  X509Minter,
  generateKey,
  keyObjectSigner,
  mintSelfSignedRoot,
  parseCertificate,
  parseDuration,
  parseSpiffeId,
  parseTrustDomain,
  systemClock,
} from '@parley/core';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);

async function rate(name: string, op: () => unknown): Promise<number> {
  for (let i = 0; i < 2000; i++) await op(); // warm up: JIT and caches
  let n = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) await op();
    n += 50;
  }
  const perSec = n / ((performance.now() - start) / 1000);
  console.log(`${name.padEnd(52)} ${perSec.toFixed(0).padStart(8)} /s`);
  return perSec;
}

function opensslSpeed(): number | undefined {
  try {
    const out = execFileSync('openssl', ['speed', '-seconds', String(SECONDS), 'ecdsap256'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const line = out.split('\n').find((l) => /256 bits ecdsa \(nistp256\)/.test(l));
    const fields = line?.trim().split(/\s+/) ?? [];
    const signPerSec = Number(fields[fields.length - 2]);
    return Number.isFinite(signPerSec) ? signPerSec : undefined;
  } catch {
    return undefined;
  }
}

const td = parseTrustDomain('example.org');
const caKey = generateKey('ec-p256');
const signer = keyObjectSigner(caKey);
const root = parseCertificate(
  (await mintSelfSignedRoot(signer, { trustDomain: td, ttl: parseDuration('24h') }, systemClock))
    .der,
);
const minter = new X509Minter({ signer, certificate: root }, systemClock);
const jwtMinter = new JwtSvidMinter({ signer, keyId: 'k1' }, systemClock);
const spiffeId = parseSpiffeId('spiffe://example.org/ns/prod/sa/web');
const subjectKey = createPublicKey(generateKey('ec-p256'));
const subjectSpki = subjectKey.export({ type: 'spki', format: 'der' });
const ttl = parseDuration('1h');
const message = Buffer.alloc(420, 7); // about the size of an SVID's TBSCertificate

console.log(`bench/mint: ${SECONDS}s per figure, node ${process.version}, one thread`);
const raw = await rate('baseline: node:crypto P-256 sign (KeyObject)', () =>
  sign('sha256', message, caKey),
);
const openssl = opensslSpeed();
if (openssl !== undefined)
  console.log(
    `${'reference: openssl speed ecdsap256 (sign, 1 core)'.padEnd(52)} ${openssl.toFixed(0).padStart(8)} /s`,
  );
const x509 = await rate('X509-SVID minted (SPKI supplied, as from a CSR)', () =>
  minter.mintSvid({ spiffeId, publicKey: subjectSpki, ttl }),
);
const x509KeyObject = await rate('X509-SVID minted (KeyObject supplied)', () =>
  minter.mintSvid({ spiffeId, publicKey: subjectKey, ttl }),
);
const keygen = await rate('P-256 key generation alone (generateKey)', () => generateKey('ec-p256'));
const withKeygen = await rate('X509-SVID minted with P-256 key generation', () =>
  minter.mintSvid({ spiffeId, publicKey: createPublicKey(generateKey('ec-p256')), ttl }),
);
const jwt = await rate('JWT-SVID signed (ES256)', () =>
  jwtMinter.mint({ spiffeId, audience: ['spiffe://example.org/backend'], ttl }),
);

const pct = (x: number) => `${((x / raw) * 100).toFixed(1)}% of raw signing`;
console.log('');
console.log(`X509-SVID (SPKI supplied):      ${x509.toFixed(0)}/s = ${pct(x509)} (target >= 50%)`);
console.log(
  `X509-SVID (KeyObject supplied): ${x509KeyObject.toFixed(0)}/s = ${pct(x509KeyObject)}`,
);
console.log(
  `X509-SVID (with keygen):        ${withKeygen.toFixed(0)}/s = ${pct(withKeygen)} (keygen alone ${keygen.toFixed(0)}/s)`,
);
console.log(`JWT-SVID:                       ${jwt.toFixed(0)}/s = ${pct(jwt)}`);
if (openssl !== undefined)
  console.log(`node:crypto sign vs openssl: ${((raw / openssl) * 100).toFixed(1)}%`);

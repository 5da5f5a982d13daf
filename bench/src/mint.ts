// bench/mint: X509-SVIDs and JWT-SVIDs minted per second by @parley/core, each printed with its
// ratio to the raw P-256 signature rate measured in the same run (node:crypto signing a
// certificate-sized message with the CA's KeyObject; `openssl speed ecdsap256` is printed beside
// it for reference). The subjects are measured in interleaved rounds with the baseline and the
// medians are reported, so drift on a shared machine hits every figure alike.
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
const ROUNDS = 5;

interface Subject {
  readonly name: string;
  readonly op: () => unknown;
  readonly rates: number[];
}

/** Runs `op` for `ms` and returns operations per second. */
async function measure(op: () => unknown, ms: number): Promise<number> {
  let n = 0;
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 25; i++) await op();
    n += 25;
  }
  return n / ((performance.now() - start) / 1000);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
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
const audience = ['spiffe://example.org/backend'];
const message = Buffer.alloc(450, 7); // the size of an SVID's TBSCertificate

const subject = (name: string, op: () => unknown): Subject => ({ name, op, rates: [] });
const baseline = subject('baseline: node:crypto P-256 sign (KeyObject)', () =>
  sign('sha256', message, caKey),
);
const spki = subject('X509-SVID minted (SPKI supplied, as from a CSR)', () =>
  minter.mintSvid({ spiffeId, publicKey: subjectSpki, ttl }),
);
const keyObject = subject('X509-SVID minted (KeyObject supplied)', () =>
  minter.mintSvid({ spiffeId, publicKey: subjectKey, ttl }),
);
const keygen = subject('P-256 key generation alone (generateKey)', () => generateKey('ec-p256'));
const withKeygen = subject('X509-SVID minted with P-256 key generation', () =>
  minter.mintSvid({ spiffeId, publicKey: createPublicKey(generateKey('ec-p256')), ttl }),
);
const jwt = subject('JWT-SVID signed (ES256)', () => jwtMinter.mint({ spiffeId, audience, ttl }));
const subjects = [baseline, spki, keyObject, keygen, withKeygen, jwt];

console.log(
  `bench/mint: ${ROUNDS} interleaved rounds of ${SECONDS / ROUNDS}s per figure, node ${process.version}, one thread`,
);
for (const s of subjects) await measure(s.op, 300); // warm up: JIT and caches
for (let round = 0; round < ROUNDS; round++) {
  for (const s of subjects) s.rates.push(await measure(s.op, (SECONDS * 1000) / ROUNDS));
}
for (const s of subjects) {
  const spread = `${Math.min(...s.rates).toFixed(0)}..${Math.max(...s.rates).toFixed(0)}`;
  console.log(
    `${s.name.padEnd(52)} ${median(s.rates).toFixed(0).padStart(8)} /s  (rounds ${spread})`,
  );
}
const openssl = opensslSpeed();
if (openssl !== undefined) {
  console.log(
    `${'reference: openssl speed ecdsap256 (sign, 1 core)'.padEnd(52)} ${openssl.toFixed(0).padStart(8)} /s`,
  );
}

// Ratios per round (subject and baseline measured back to back), then their median.
const ratio = (s: Subject) => median(s.rates.map((r, i) => r / (baseline.rates[i] ?? r)));
const pct = (s: Subject) => `${(ratio(s) * 100).toFixed(1)}% of raw signing`;
console.log('');
console.log(
  `X509-SVID (SPKI supplied):      ${median(spki.rates).toFixed(0)}/s = ${pct(spki)} (target >= 50%)`,
);
console.log(
  `X509-SVID (KeyObject supplied): ${median(keyObject.rates).toFixed(0)}/s = ${pct(keyObject)}`,
);
console.log(
  `X509-SVID (with keygen):        ${median(withKeygen.rates).toFixed(0)}/s = ${pct(withKeygen)} (keygen alone ${median(keygen.rates).toFixed(0)}/s)`,
);
console.log(`JWT-SVID:                       ${median(jwt.rates).toFixed(0)}/s = ${pct(jwt)}`);
if (openssl !== undefined) {
  console.log(
    `node:crypto sign vs openssl:    ${((median(baseline.rates) / openssl) * 100).toFixed(1)}%`,
  );
}

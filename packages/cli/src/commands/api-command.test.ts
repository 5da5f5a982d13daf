import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import {
  type Selector,
  type WorkloadIdentityCache,
  type WorkloadJwtSvid,
  type WorkloadView,
  type WorkloadX509Svid,
  createWorkloadApiService,
} from '@parley/agent';
import { loadWorkloadApi } from '@parley/api';
import {
  type Bundle,
  type Certificate,
  JwtSvidMinter,
  type SpiffeId,
  X509Minter,
  bundleSet,
  certificatePublicKey,
  decodePemBlocks,
  generateKey,
  keyObjectSigner,
  mintSelfSignedRoot,
  parseCertificate,
  parseDuration,
  parsePrivateKey,
  parseSpiffeId,
  parseTrustDomain,
  systemClock,
  verifyJwtSvid,
  verifyX509Svid,
} from '@parley/core';
import { runCli } from '../cli.js';
import type { CliIo } from '../command.js';
import { resolveWorkloadSocket } from '../workload-client.js';

const ID = 'spiffe://example.org/workload';
const SELECTORS: readonly Selector[] = [{ type: 'unix', value: 'uid:1000' }];

/** A CA for `trustDomain`, minted per test run with @parley/core. */
async function makeCa(trustDomain: string) {
  const signer = keyObjectSigner(generateKey('ec-p256'));
  const rootDer = await mintSelfSignedRoot(
    signer,
    { trustDomain: parseTrustDomain(trustDomain), ttl: parseDuration('24h') },
    systemClock,
  );
  const root = parseCertificate(rootDer.der);
  return { root, minter: new X509Minter({ signer, certificate: root }, systemClock) };
}

/**
 * A small SVID cache for the Workload API service (a fake, not a mock): one entry for SELECTORS
 * with a hint and a federated trust domain; `rotate` mints a new SVID and notifies.
 */
class TestCache implements WorkloadIdentityCache {
  readonly #listeners = new Set<() => void>();
  readonly #jwt: JwtSvidMinter;
  readonly spiffeId: SpiffeId = parseSpiffeId(ID);
  bundle: Bundle;
  svid: WorkloadX509Svid | undefined;
  /** When set, SVIDs are signed by this intermediate CA and sent with it. */
  intermediate: { readonly minter: X509Minter; readonly der: Uint8Array } | undefined;

  constructor(
    private readonly ca: Awaited<ReturnType<typeof makeCa>>,
    readonly federated: Bundle,
  ) {
    const signer = keyObjectSigner(generateKey('ec-p256'));
    this.#jwt = new JwtSvidMinter({ signer, keyId: 'jwt-key-1' }, systemClock);
    this.bundle = {
      trustDomain: parseTrustDomain('example.org'),
      x509Authorities: [ca.root],
      jwtAuthorities: new Map([['jwt-key-1', signer.publicKey]]),
    };
  }

  async rotate(): Promise<void> {
    const key = generateKey('ec-p256');
    const minted = await (this.intermediate?.minter ?? this.ca.minter).mintSvid({
      spiffeId: this.spiffeId,
      publicKey: createPublicKey(key),
      ttl: parseDuration('1h'),
    });
    this.svid = {
      spiffeId: this.spiffeId,
      certChain:
        this.intermediate === undefined ? [minted.der] : [minted.der, this.intermediate.der],
      privateKey: key.export({ type: 'pkcs8', format: 'der' }),
      hint: 'test',
    };
    for (const listener of [...this.#listeners]) listener();
  }

  #entitled(selectors: readonly Selector[]): boolean {
    return SELECTORS.every((s) => selectors.some((c) => c.type === s.type && c.value === s.value));
  }

  viewFor(selectors: readonly Selector[]): WorkloadView {
    const entitled = this.#entitled(selectors) && this.svid !== undefined;
    return {
      svids: entitled && this.svid !== undefined ? [this.svid] : [],
      bundle: this.bundle,
      federatedBundles: entitled ? [this.federated] : [],
    };
  }

  async fetchJwtSvid(
    selectors: readonly Selector[],
    spiffeId: SpiffeId,
    audience: readonly string[],
  ): Promise<WorkloadJwtSvid> {
    assert.ok(this.#entitled(selectors));
    const minted = await this.#jwt.mint({ spiffeId, audience, ttl: parseDuration('5m') });
    return { token: minted.token };
  }

  subscribe(listener: () => void): () => void {
    const wrapped = () => listener();
    this.#listeners.add(wrapped);
    return () => this.#listeners.delete(wrapped);
  }
}

async function* chunks(parts: readonly string[]): AsyncGenerator<string> {
  yield* parts;
}

/** An in-process CliIo that records what the command writes. */
function capture(
  extra: { env?: Record<string, string>; signal?: AbortSignal; stdin?: string[] } = {},
) {
  const out = { stdout: '', stderr: '' };
  const io: CliIo & { stdin?: AsyncIterable<string> } = {
    stdout: (t) => void (out.stdout += t),
    stderr: (t) => void (out.stderr += t),
    env: extra.env ?? {},
    ...(extra.signal === undefined ? {} : { signal: extra.signal }),
    ...(extra.stdin === undefined ? {} : { stdin: chunks(extra.stdin) }),
  };
  return { io, out };
}

async function waitFor(what: string, ready: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('parley api (Workload API client commands)', () => {
  let dir: string;
  let socket: string;
  let server: Server;
  let cache: TestCache;
  let caller: readonly Selector[] = SELECTORS;
  let ownRoot: Certificate;

  const api = (...args: string[]) => {
    const { io, out } = capture();
    return runCli(['api', ...args, '--socket', socket], io).then((code) => ({ code, ...out }));
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parley-api-'));
    socket = join(dir, 'agent.sock');
    const ca = await makeCa('example.org');
    ownRoot = ca.root;
    const partner = await makeCa('partner.example');
    cache = new TestCache(ca, {
      trustDomain: parseTrustDomain('partner.example'),
      x509Authorities: [partner.root],
      jwtAuthorities: new Map(),
    });
    await cache.rotate();
    const service = createWorkloadApiService({
      identify: async () => ({ ok: true, selectors: caller }),
      cache,
      clock: systemClock,
      log: { warn: () => undefined, error: () => undefined },
    });
    server = new Server();
    server.addService(loadWorkloadApi().SpiffeWorkloadAPI.service, service);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  });

  beforeEach(() => {
    caller = SELECTORS;
    cache.bundle = { ...cache.bundle, x509Authorities: [ownRoot] };
  });

  after(async () => {
    server.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  describe('fetch x509', () => {
    it('writes SPIRE-named files that parse and verify against bundle.0.pem', async () => {
      const out = await mkdtemp(join(dir, 'write-'));
      const r = await api('fetch', 'x509', '--write', out);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      assert.deepEqual((await readdir(out)).sort(), [
        'bundle.0.pem',
        'federated_bundle.0.0.pem',
        'svid.0.key',
        'svid.0.pem',
      ]);
      const chain = decodePemBlocks(await readFile(join(out, 'svid.0.pem'), 'utf8'), 'CERTIFICATE');
      const roots = decodePemBlocks(
        await readFile(join(out, 'bundle.0.pem'), 'utf8'),
        'CERTIFICATE',
      ).map((der) => parseCertificate(der));
      const verified = verifyX509Svid(
        chain,
        bundleSet({
          trustDomain: parseTrustDomain('example.org'),
          x509Authorities: roots,
          jwtAuthorities: new Map(),
        }),
        systemClock,
      );
      assert.ok(verified.ok, verified.ok ? '' : verified.reason);
      assert.equal(verified.svid.spiffeId.toString(), ID);
      const key = parsePrivateKey(await readFile(join(out, 'svid.0.key'), 'utf8'));
      const leaf = verified.svid.certificates[0] as Certificate;
      assert.ok(certificatePublicKey(leaf).equals(createPublicKey(key)));
      assert.equal((await stat(join(out, 'svid.0.key'))).mode & 0o777, 0o600);
      const federated = decodePemBlocks(
        await readFile(join(out, 'federated_bundle.0.0.pem'), 'utf8'),
        'CERTIFICATE',
      );
      assert.deepEqual(
        federated.map((d) => Buffer.from(d)),
        [Buffer.from(cache.federated.x509Authorities[0]?.raw ?? [])],
      );
      // The table names the SVID; the key only ever goes to the file.
      assert.match(r.stdout, /spiffe:\/\/example\.org\/workload +test +[0-9a-f]+ +\d{4}-/);
      assert.match(r.stdout, /partner\.example +1 +yes/);
      assert.match(r.stdout, /wrote .*svid\.0\.key/);
      assert.doesNotMatch(r.stdout, /PRIVATE KEY/);
    });

    it('prints the SVIDs and bundles as JSON, without keys', async () => {
      const r = await api('fetch', 'x509', '-o', 'json');
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as {
        svids: { spiffeId: string; hint: string; serial: string; expiresAt: string }[];
        bundles: { trustDomain: string; federated: boolean }[];
      };
      assert.equal(doc.svids[0]?.spiffeId, ID);
      assert.equal(doc.svids[0]?.hint, 'test');
      assert.match(doc.svids[0]?.serial ?? '', /^[0-9a-f]+$/);
      assert.ok(Date.parse(doc.svids[0]?.expiresAt ?? '') > Date.now());
      assert.deepEqual(
        doc.bundles.map((b) => [b.trustDomain, b.federated]),
        [
          ['example.org', false],
          ['partner.example', true],
        ],
      );
      assert.doesNotMatch(r.stdout, /PRIVATE|privateKey/);
    });

    it('fails closed when the SVID does not verify against the bundle it came with', async () => {
      const other = await makeCa('example.org');
      cache.bundle = { ...cache.bundle, x509Authorities: [other.root] };
      const out = await mkdtemp(join(dir, 'refused-'));
      const r = await api('fetch', 'x509', '--write', out);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^parley: the X509-SVID for spiffe:\/\/example\.org\/workload does not verify against its bundle: .+\n$/,
      );
      assert.deepEqual(await readdir(out), []);
    });

    it('writes the whole chain of an SVID signed by an intermediate CA', async () => {
      const ca = await makeCa('example.org');
      cache.bundle = { ...cache.bundle, x509Authorities: [ca.root] };
      const signer = keyObjectSigner(generateKey('ec-p256'));
      const minted = await ca.minter.mintSigningCertificate({
        trustDomain: parseTrustDomain('example.org'),
        publicKey: signer.publicKey,
        ttl: parseDuration('2h'),
      });
      const certificate = parseCertificate(minted.der);
      cache.intermediate = {
        minter: new X509Minter({ signer, certificate }, systemClock),
        der: minted.der,
      };
      try {
        await cache.rotate();
        const out = await mkdtemp(join(dir, 'chain-'));
        const r = await api('fetch', 'x509', '--write', out, '-o', 'json');
        assert.equal(r.code, 0, r.stderr);
        const doc = JSON.parse(r.stdout) as { svids: { intermediates: number }[]; files: string[] };
        assert.equal(doc.svids[0]?.intermediates, 1);
        assert.equal(doc.files.length, 4);
        const chain = decodePemBlocks(
          await readFile(join(out, 'svid.0.pem'), 'utf8'),
          'CERTIFICATE',
        );
        assert.equal(chain.length, 2);
        const verified = verifyX509Svid(chain, bundleSet({ ...cache.bundle }), systemClock);
        assert.ok(verified.ok, verified.ok ? '' : verified.reason);
        assert.equal(verified.svid.path.length, 3);
      } finally {
        cache.intermediate = undefined;
        await cache.rotate();
      }
    });

    it('finds the socket through SPIFFE_ENDPOINT_SOCKET', async () => {
      const { io, out } = capture({ env: { SPIFFE_ENDPOINT_SOCKET: `unix://${socket}` } });
      assert.equal(await runCli(['api', 'fetch', 'x509'], io), 0, out.stderr);
      assert.match(out.stdout, /spiffe:\/\/example\.org\/workload/);
    });
  });

  describe('fetch jwt and validate jwt', () => {
    it('fetches a JWT-SVID that verifies, and the agent validates it', async () => {
      const r = await api('fetch', 'jwt', '--audience', 'spiffe://example.org/db');
      assert.equal(r.code, 0, r.stderr);
      const token = r.stdout.trim();
      assert.equal(r.stdout, `${token}\n`);
      const verified = verifyJwtSvid(
        token,
        bundleSet(cache.bundle),
        ['spiffe://example.org/db'],
        systemClock,
      );
      assert.ok(verified.ok);

      const v = await api(
        'validate',
        'jwt',
        '--audience',
        'spiffe://example.org/db',
        '--token',
        token,
        '-o',
        'json',
      );
      assert.equal(v.code, 0, v.stderr);
      const doc = JSON.parse(v.stdout) as { spiffeId: string; claims: Record<string, unknown> };
      assert.equal(doc.spiffeId, ID);
      assert.equal(doc.claims['sub'], ID);
      assert.deepEqual(doc.claims['aud'], ['spiffe://example.org/db']);
      assert.equal(typeof doc.claims['exp'], 'number');

      const table = await api(
        'validate',
        'jwt',
        '--audience',
        'spiffe://example.org/db',
        '--token',
        token,
      );
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^SPIFFE ID: spiffe:\/\/example\.org\/workload\nClaims: +\{/);
    });

    it('prints SPIFFE ID, expiry and the JWT bundles with -o json', async () => {
      const r = await api(
        'fetch',
        'jwt',
        '--audience',
        'a',
        '--audience',
        'b',
        '--spiffe-id',
        ID,
        '-o',
        'json',
      );
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as {
        svids: {
          spiffeId: string;
          hint: string;
          audience: string[];
          expiresAt: string;
          token: string;
        }[];
        bundles: { trustDomain: string; keys: { kid: string; kty: string }[] }[];
      };
      assert.equal(doc.svids.length, 1);
      assert.equal(doc.svids[0]?.spiffeId, ID);
      assert.equal(doc.svids[0]?.hint, 'test');
      assert.deepEqual(doc.svids[0]?.audience, ['a', 'b']);
      assert.ok(Date.parse(doc.svids[0]?.expiresAt ?? '') > Date.now());
      assert.deepEqual(
        doc.bundles.map((b) => [b.trustDomain, b.keys.map((k) => [k.kid, k.kty])]),
        [
          ['example.org', [['jwt-key-1', 'EC']]],
          ['partner.example', []],
        ],
      );
    });

    it('reads the token from standard input with --token -', async () => {
      const f = await api('fetch', 'jwt', '--audience', 'aud1');
      assert.equal(f.code, 0, f.stderr);
      const { io, out } = capture({ stdin: [f.stdout.slice(0, 10), f.stdout.slice(10)] });
      const code = await runCli(
        ['api', 'validate', 'jwt', '--audience', 'aud1', '--token', '-', '--socket', socket],
        io,
      );
      assert.equal(code, 0, out.stderr);
      assert.match(out.stdout, /SPIFFE ID: spiffe:\/\/example\.org\/workload/);
      assert.doesNotMatch(out.stdout + out.stderr, new RegExp(f.stdout.trim().slice(-20)));
    });

    it('reports a token the agent rejects with its status', async () => {
      const f = await api('fetch', 'jwt', '--audience', 'aud1');
      const r = await api('validate', 'jwt', '--audience', 'other', '--token', f.stdout.trim());
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^parley: InvalidArgument: invalid JWT-SVID: .+\n$/);
    });
  });

  describe('watch', () => {
    it('prints one line per X509-SVID update and exits after --count', async () => {
      const { io, out } = capture();
      const done = runCli(['api', 'watch', '--count', '2', '--socket', socket], io);
      await waitFor('the first update', () => out.stdout.includes('\n'));
      await cache.rotate();
      assert.equal(await done, 0, out.stderr);
      const lines = out.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 2);
      const serials = lines.map((l) => /serial ([0-9a-f]+)/.exec(l)?.[1]);
      for (const line of lines)
        assert.match(
          line,
          /^spiffe:\/\/example\.org\/workload {2}serial [0-9a-f]+ {2}expires \d{4}-.* {2}hint test$/,
        );
      assert.notEqual(serials[0], serials[1]);
    });

    it('prints JSON lines and stops with exit 0 when interrupted', async () => {
      const stop = new AbortController();
      const { io, out } = capture({ signal: stop.signal });
      const done = runCli(['api', 'watch', '-o', 'json', '--socket', socket], io);
      await waitFor('the first update', () => out.stdout.includes('\n'));
      stop.abort();
      assert.equal(await done, 0, out.stderr);
      const update = JSON.parse(out.stdout) as { update: number; svids: { spiffeId: string }[] };
      assert.equal(update.update, 1);
      assert.equal(update.svids[0]?.spiffeId, ID);
    });

    it('exits 1 when --count updates do not arrive within --timeout', async () => {
      const r = await api('watch', '--count', '3', '--timeout', '300ms');
      assert.equal(r.code, 1);
      assert.equal(r.stdout.trimEnd().split('\n').length, 1);
      assert.equal(r.stderr, 'parley: DeadlineExceeded: 1 of 3 X509-SVID updates within 300ms\n');
    });
  });

  describe('failures', () => {
    it('an unentitled caller gets PermissionDenied from every command', async () => {
      caller = [{ type: 'unix', value: 'uid:4242' }];
      for (const args of [
        ['fetch', 'x509'],
        ['fetch', 'jwt', '--audience', 'a'],
        ['watch', '--count', '1', '--timeout', '5s'],
      ]) {
        const r = await api(...args);
        assert.equal(r.code, 1, args.join(' '));
        assert.equal(r.stdout, '');
        assert.equal(r.stderr, 'parley: PermissionDenied: no identity issued\n', args.join(' '));
      }
    });

    it('a missing socket is a clear error', async () => {
      const { io, out } = capture();
      const missing = join(dir, 'nope.sock');
      assert.equal(await runCli(['api', 'fetch', 'x509', '--socket', `unix://${missing}`], io), 1);
      assert.equal(
        out.stderr,
        `parley: no Workload API socket ${missing} (is the agent running? name it with --socket or SPIFFE_ENDPOINT_SOCKET)\n`,
      );
    });

    it('bad flags are usage errors (exit 2)', async () => {
      for (const args of [
        ['api'],
        ['api', 'fetch'],
        ['api', 'fetch', 'x509', '--nope'],
        ['api', 'fetch', 'x509', '-o', 'pem'],
        ['api', 'fetch', 'x509', '--timeout', 'soon'],
        ['api', 'fetch', 'x509', '--socket', 'tcp://127.0.0.1:1'],
        ['api', 'fetch', 'x509', '--socket', 'unix://host/x.sock'],
        ['api', 'fetch', 'jwt'],
        ['api', 'fetch', 'jwt', '--audience', 'a', '--spiffe-id', 'not-an-id'],
        ['api', 'validate', 'jwt', '--audience', 'a'],
        ['api', 'validate', 'jwt', '--token', 't'],
        ['api', 'watch', '--count', '0'],
        ['api', 'watch', '-o', 'yaml'],
        ['api', 'watch', 'extra'],
      ]) {
        const { io, out } = capture();
        const argv = args.includes('--socket') ? args : [...args, '--socket', socket];
        assert.equal(await runCli(argv, io), 2, args.join(' '));
        assert.match(out.stderr, /^parley: [^\n]+\n$/, args.join(' '));
      }
    });

    it('prints its usage on help', async () => {
      const { io, out } = capture();
      assert.equal(await runCli(['api', 'help'], io), 0);
      assert.match(out.stdout, /parley api fetch x509 \[--write DIR\]/);
      assert.match(out.stdout, /SPIFFE_ENDPOINT_SOCKET/);
    });
  });

  describe('resolveWorkloadSocket', () => {
    it('takes --socket, then SPIFFE_ENDPOINT_SOCKET, then the local mesh socket', () => {
      const env = { SPIFFE_ENDPOINT_SOCKET: 'unix:///run/spire/agent.sock' };
      assert.equal(resolveWorkloadSocket('unix:///tmp/a.sock', env), '/tmp/a.sock');
      assert.equal(resolveWorkloadSocket('unix:/tmp/b.sock', env), '/tmp/b.sock');
      assert.equal(resolveWorkloadSocket('rel/c.sock', env), 'rel/c.sock');
      assert.equal(resolveWorkloadSocket(undefined, env), '/run/spire/agent.sock');
      assert.equal(
        resolveWorkloadSocket(undefined, { SPIFFE_ENDPOINT_SOCKET: '' }),
        './.parley/agent.sock',
      );
      assert.equal(resolveWorkloadSocket(undefined, {}), './.parley/agent.sock');
      for (const bad of ['tcp://127.0.0.1:8081', 'unix://host/a.sock', 'unix:rel.sock', ''])
        assert.throws(() => resolveWorkloadSocket(bad, {}), /Workload API address/);
    });
  });
});

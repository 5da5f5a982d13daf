import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { lstat, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type ServiceError, status } from '@grpc/grpc-js';
import type { X509SvidResponse } from '@parley/api';
import { type Selector, parseSpiffeId, parseTrustDomain, systemClock } from '@parley/core';
import { type TempDir, type TestCa, findPeer, makeTempDir, makeTestCa } from '@parley/testing';
import type { CachedEntry } from '../cache/cached-entry.js';
import { SvidCache } from '../cache/svid-cache.js';
import { SdsTestStream, decodeSecrets, sdsTestClient } from '../sds/sds-test-client.js';
import {
  StreamReader,
  callMetadata,
  workloadApiTestClient,
} from '../workload-api/workload-api-test-client.js';
import type { WorkloadApiLog } from '../workload-api/workload-api-deps.js';
import { attestCaller } from '../workload-attestor/attest-caller.js';
import { createWorkloadAttestors } from '../workload-attestor/workload-attestors.js';
import { type AgentSocket, serveAgentSocket } from './serve-agent-socket.js';
import { parseSocketName } from '@parley/core';
import { callerOnSocket, socketNameOf } from './socket-selector.js';
import { WorkloadSockets } from './workload-sockets.js';

const run = promisify(execFile);
const uid: Selector = { type: 'unix', value: `uid:${process.getuid?.() ?? 0}` };
const onSocket = (name: string): Selector => ({ type: 'parley', value: `socket:${name}` });

async function waitFor(what: string, ready: () => Promise<boolean> | boolean, ms = 5000) {
  const deadline = performance.now() + ms;
  while (!(await ready())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const exists = (path: string) =>
  lstat(path).then(
    (s) => s.isSocket(),
    () => false,
  );

describe('socket selectors', () => {
  it('parses socket names strictly', () => {
    for (const ok of ['web', 'a', 'sock-shop.front_end', '0', 'a'.repeat(63)])
      assert.equal(parseSocketName(ok), ok);
    for (const bad of ['', 'Web', '-web', '.hidden', '../x', 'a/b', 'a'.repeat(64), 'a b'])
      assert.throws(() => parseSocketName(bad), /invalid workload socket name/);
    assert.deepEqual(socketNameOf(onSocket('web')), { ok: true, name: 'web' });
    assert.equal(socketNameOf(uid), undefined);
    assert.equal(socketNameOf({ type: 'parley', value: 'other:x' }), undefined);
    assert.equal(socketNameOf(onSocket('../etc'))?.ok, false);
  });

  it('strips reserved selectors from an attestation and adds the socket selector', () => {
    const attested = { ok: true as const, selectors: [uid, onSocket('forged')] };
    assert.deepEqual(callerOnSocket(attested), { ok: true, selectors: [uid] });
    assert.deepEqual(callerOnSocket(attested, 'web'), {
      ok: true,
      selectors: [uid, onSocket('web')],
    });
    const failed = { ok: false as const, reason: 'gone' };
    assert.equal(callerOnSocket(failed, 'web'), failed);
  });
});

// DESIGN §1: a socket per registered workload; its callers get `parley:socket:<name>`.
describe('per-workload sockets', () => {
  let dir: TempDir;
  let ca: TestCa;
  let cache: SvidCache;
  let general: AgentSocket;
  let sockets: WorkloadSockets;
  const stop = new AbortController();
  let running: Promise<void>;
  const warnings: string[] = [];
  const log: WorkloadApiLog & { info(m: string): void } = {
    info: () => undefined,
    warn: (m, f) => warnings.push(`${m} ${JSON.stringify(f)}`),
    error: (m, f) => warnings.push(`${m} ${JSON.stringify(f)}`),
  };
  let created = 0;

  async function addEntry(name: string, selectors: readonly Selector[]): Promise<void> {
    const spiffeId = parseSpiffeId(`spiffe://example.org/${name}`);
    const entry: CachedEntry = {
      id: name,
      spiffeId,
      parentId: parseSpiffeId('spiffe://example.org/agent'),
      selectors,
      x509SvidTtl: 0,
      jwtSvidTtl: 0,
      dnsNames: [],
      federatesWith: [],
      hint: '',
      revision: 1,
      createdAt: ++created,
    };
    cache.applyEntries([entry], []);
    const minted = await ca.mintSvid(spiffeId.toString());
    const now = systemClock.now();
    cache.putSvids([
      {
        spiffeId,
        certChain: [minted.der],
        privateKey: minted.key.export({ type: 'pkcs8', format: 'der' }),
        hint: '',
        entryId: name,
        entryRevision: 1,
        issuedAt: now,
        expiresAt: now + 3_600_000,
        rotateAt: now + 1_800_000,
        authorityId: '',
      },
    ]);
  }

  /** The SPIFFE IDs a Workload API client on `socket` gets, or the status it is refused with. */
  async function idsOn(socket: string): Promise<string[] | number> {
    const client = workloadApiTestClient(socket);
    try {
      const reader = new StreamReader(client.FetchX509SVID({}, callMetadata()));
      const response: X509SvidResponse = await reader.next();
      reader.stream.cancel();
      return response.svids.map((s) => s.spiffe_id);
    } catch (err) {
      return (err as ServiceError).code;
    } finally {
      client.close();
    }
  }

  before(async () => {
    dir = await makeTempDir();
    ca = await makeTestCa();
    cache = new SvidCache(
      {
        trustDomain: parseTrustDomain('example.org'),
        x509Authorities: [ca.root],
        jwtAuthorities: new Map(),
      },
      {
        clock: systemClock,
        jwtSource: { newJwtSvid: () => Promise.reject(new Error('no JWT-SVIDs here')) },
      },
    );
    await addEntry('web', [onSocket('web')]);
    await addEntry('api', [onSocket('api'), uid]);
    await addEntry('bad', [onSocket('Not.Valid')]);
    const attestors = createWorkloadAttestors({
      unix: { discoverWorkloadPath: false, workloadSizeLimit: 0 },
    });
    const deps = {
      attest: (call: { getPeer(): string }) => attestCaller(call, attestors),
      cache,
      clock: systemClock,
      log,
    };
    general = await serveAgentSocket(join(dir.path, 'agent.sock'), deps);
    sockets = new WorkloadSockets({
      dir: join(dir.path, 'workloads'),
      entries: cache,
      serve: (name, path) => serveAgentSocket(path, deps, { mode: 0o600, socketName: name }),
      log,
    });
    running = sockets.run(stop.signal);
    await waitFor('the workload sockets', () => sockets.paths.size === 2);
  });

  after(async () => {
    stop.abort();
    await running;
    await general.close();
    await dir.remove();
  });

  it('serves one 0600 socket per valid name and logs an invalid one', async () => {
    assert.deepEqual([...sockets.paths.keys()].sort(), ['api', 'web']);
    const web = join(dir.path, 'workloads', 'web.sock');
    assert.equal(sockets.paths.get('web'), web);
    assert.equal((await stat(web)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir.path, 'workloads'))).mode & 0o777, 0o700);
    assert.ok(
      warnings.some((w) => w.includes('invalid name')),
      warnings.join('\n'),
    );
  });

  it('gives each socket only its own SVID, and the general socket neither', async () => {
    assert.deepEqual(await idsOn(sockets.paths.get('web') ?? ''), ['spiffe://example.org/web']);
    assert.deepEqual(await idsOn(sockets.paths.get('api') ?? ''), ['spiffe://example.org/api']);
    assert.equal(await idsOn(general.path), status.PERMISSION_DENIED);
  });

  it('serves SDS on a workload socket with the same entitlement', async () => {
    const client = sdsTestClient(sockets.paths.get('web') ?? '');
    const stream = new SdsTestStream(client.StreamSecrets());
    try {
      stream.request(['default', 'spiffe://example.org/api']);
      const secrets = decodeSecrets(await stream.next());
      assert.deepEqual(
        secrets.map((s) => s.name),
        ['default'],
      );
      assert.equal(
        new X509Certificate(secrets[0]?.chain ?? '').subjectAltName,
        'URI:spiffe://example.org/web',
      );
    } finally {
      stream.close();
      client.close();
    }
  });

  it('go-spiffe on each socket fetches only its own SVID', async () => {
    const fetchX509 = async (socket: string) => {
      const { stdout } = await run(findPeer('go-spiffe-oracle'), [
        'fetch-x509',
        '--socket',
        `unix://${socket}`,
        '--timeout',
        '5s',
      ]);
      const out = JSON.parse(stdout) as { svids: { spiffeId: string; verified: boolean }[] };
      return out.svids.map((s) => [s.spiffeId, s.verified]);
    };
    assert.deepEqual(await fetchX509(sockets.paths.get('web') ?? ''), [
      ['spiffe://example.org/web', true],
    ]);
    assert.deepEqual(await fetchX509(sockets.paths.get('api') ?? ''), [
      ['spiffe://example.org/api', true],
    ]);
    await assert.rejects(fetchX509(general.path), /PermissionDenied|no identity issued/);
  });

  it('opens and closes sockets as entries come and go', async () => {
    await addEntry('cart', [onSocket('cart')]);
    const cart = join(dir.path, 'workloads', 'cart.sock');
    await waitFor('cart.sock', () => exists(cart));
    assert.deepEqual(await idsOn(cart), ['spiffe://example.org/cart']);
    cache.applyEntries([], ['cart']);
    await waitFor('cart.sock to go', async () => !(await exists(cart)));
    assert.equal(sockets.paths.has('cart'), false);
  });
});

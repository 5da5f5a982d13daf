import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type ChannelCredentials,
  type ClientReadableStream,
  type ServerCredentials as ServerCredentialsType,
  type StatusObject,
  Server,
  ServerCredentials,
  credentials,
  status,
} from '@grpc/grpc-js';
import {
  type Bundle,
  bundleSet,
  encodePem,
  parseTrustDomain,
  systemClock,
  verifyX509Svid,
} from '@parley/core';
import { type TempDir, type TestCa, makeTempDir, makeTestCa } from '@parley/testing';
import { testSnapshot } from '../ext-authz/ext-authz-test-fixtures.js';
import {
  authzSnapshot,
  parseAuthzSnapshot,
  serializeAuthzSnapshot,
} from '../model/authz-snapshot.js';
import {
  TestFeed,
  policyDistributionClient,
  policyDistributionDefinition,
} from './distribution-test-api.js';
import {
  type PolicyDistributionDeps,
  type PolicySnapshotWire,
  createPolicyDistributionService,
} from './policy-distribution-service.js';

/** Reads a server stream: its messages as they come, and its final status. */
class StreamReader {
  readonly messages: PolicySnapshotWire[] = [];
  readonly status: Promise<StatusObject>;
  #waiters: (() => void)[] = [];

  constructor(readonly stream: ClientReadableStream<PolicySnapshotWire>) {
    stream.on('data', (m: PolicySnapshotWire) => {
      this.messages.push(m);
      for (const w of this.#waiters.splice(0)) w();
    });
    stream.on('error', () => undefined);
    this.status = new Promise((resolve) => stream.on('status', resolve));
  }

  async next(index: number, timeoutMs = 5000): Promise<PolicySnapshotWire> {
    const timeout = AbortSignal.timeout(timeoutMs);
    while (this.messages.length <= index) {
      if (timeout.aborted) throw new Error(`no message #${index} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.messages[index] as PolicySnapshotWire;
  }
}

async function serve(
  deps: PolicyDistributionDeps,
  address: string,
  creds: ServerCredentialsType,
): Promise<{ server: Server; port: number }> {
  const server = new Server();
  server.addService(policyDistributionDefinition(), createPolicyDistributionService(deps));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port };
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const timeout = AbortSignal.timeout(timeoutMs);
  while (!condition()) {
    if (timeout.aborted) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('createPolicyDistributionService (insecure, on a Unix socket)', () => {
  let dir: TempDir;
  let feed: TestFeed;
  let server: Server;
  let address: string;
  let allowed = true;
  const authorizeCalls: (string | undefined)[] = [];

  before(async () => {
    dir = await makeTempDir('parley-policy-dist-');
    feed = new TestFeed();
    address = `unix://${join(dir.path, 'authz.sock')}`;
    ({ server } = await serve(
      {
        current: () => feed.current(),
        subscribe: (l) => feed.subscribe(l),
        authenticate: () => undefined,
        authorize: (peer) => {
          authorizeCalls.push(peer);
          return allowed;
        },
      },
      address,
      ServerCredentials.createInsecure(),
    ));
  });

  after(async () => {
    server.forceShutdown();
    await dir.remove();
  });

  const watch = () => {
    const client = policyDistributionClient(address, credentials.createInsecure());
    const reader = new StreamReader(client.WatchPolicies({}));
    // Closing a channel leaves its calls running: cancel the stream first.
    const close = () => {
      reader.stream.cancel();
      client.close();
    };
    return { close, reader };
  };

  it('sends nothing until there is a snapshot, then the current one and each new one', async () => {
    const { close, reader } = watch();
    try {
      await until(() => feed.listeners === 1, 'the stream to subscribe');
      assert.equal(reader.messages.length, 0);
      const v1 = testSnapshot('v1');
      feed.set(v1);
      const first = await reader.next(0);
      assert.equal(first.version, 'v1');
      assert.deepEqual(parseAuthzSnapshot(first.snapshot_json), v1);
      feed.set(testSnapshot('v2'));
      assert.equal((await reader.next(1)).version, 'v2');

      // A second watcher starts from the current snapshot, serialized the same way.
      const late = watch();
      try {
        const m = await late.reader.next(0);
        assert.equal(m.version, 'v2');
        assert.equal(m.snapshot_json, (await reader.next(1)).snapshot_json);
      } finally {
        late.close();
      }
    } finally {
      close();
    }
    assert.deepEqual(authorizeCalls.slice(0, 1), [undefined]);
  });

  it('does not resend the snapshot a watcher already has', async () => {
    const { close, reader } = watch();
    try {
      await reader.next(0);
      feed.set(feed.current() ?? testSnapshot());
      feed.set(testSnapshot('v3'));
      assert.equal((await reader.next(1)).version, 'v3');
      assert.equal(reader.messages.length, 2);
    } finally {
      close();
    }
  });

  it('unsubscribes when the watcher goes away', async () => {
    const { close, reader } = watch();
    await reader.next(0);
    assert.ok(feed.listeners >= 1);
    close();
    await until(() => feed.listeners === 0, 'the stream to unsubscribe');
  });

  it('gives a watcher that cannot keep up the newest snapshot, skipping superseded ones', async () => {
    const big = (version: string) => {
      const s = testSnapshot(version);
      const filler = Array.from({ length: 1000 }, (_, i) => ({
        service: `svc-${i}`,
        spiffeId: `spiffe://example.org/filler/${i}/${'x'.repeat(200)}`,
        ports: [8080],
        attributes: {},
      }));
      return authzSnapshot(version, s.policySet, [...s.workloads.values(), ...filler]);
    };
    feed.set(big('slow-0'));
    const { close, reader } = watch();
    try {
      await reader.next(0);
      reader.stream.pause();
      for (let i = 1; i <= 40; i++) feed.set(big(`slow-${i}`));
      reader.stream.resume();
      await until(() => reader.messages.at(-1)?.version === 'slow-40', 'the newest snapshot');
      assert.ok(reader.messages.length < 41, `received ${reader.messages.length} of 41`);
      const versions = reader.messages.map((m) => Number(m.version.slice(5)));
      assert.deepEqual(
        versions,
        [...versions].sort((a, b) => a - b),
        'in order',
      );
    } finally {
      close();
    }
  });

  it('refuses a caller that authorize does not admit with PERMISSION_DENIED', async () => {
    allowed = false;
    try {
      const { close, reader } = watch();
      try {
        const s = await reader.status;
        assert.equal(s.code, status.PERMISSION_DENIED);
        assert.equal(s.details, 'a caller without a client certificate may not watch policies');
        assert.equal(reader.messages.length, 0);
      } finally {
        close();
      }
    } finally {
      allowed = true;
    }
  });

  it('serializes a snapshot once however many watch', async () => {
    let serializations = 0;
    const s = testSnapshot('v-many');
    const original = serializeAuthzSnapshot(s);
    const counting = new Proxy(s, {
      get(target, key, receiver) {
        if (key === 'version') serializations++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    feed.set(counting);
    const watchers = Array.from({ length: 5 }, watch);
    try {
      for (const w of watchers) {
        assert.equal((await w.reader.next(0)).snapshot_json, original);
      }
      // version is read once per serialization (and once for the message).
      assert.ok(serializations <= 2, `serialized ${serializations} times`);
    } finally {
      for (const w of watchers) w.close();
    }
  });
});

describe('createPolicyDistributionService (internal errors)', () => {
  it('ends only the failing stream with INTERNAL, logs the cause, and never throws into the feed', async () => {
    const dir = await makeTempDir('parley-policy-dist-err-');
    const address = `unix://${join(dir.path, 'authz.sock')}`;
    const feed = new TestFeed(testSnapshot('v1'));
    let broken = false;
    const logs: string[] = [];
    const { server } = await serve(
      {
        current: () => {
          if (broken) throw new Error('store unreachable');
          return feed.current();
        },
        subscribe: (l) => feed.subscribe(l),
        authenticate: () => undefined,
        authorize: () => true,
        log: (m, f) => logs.push(`${m}: ${String(f['error'])}`),
      },
      address,
      ServerCredentials.createInsecure(),
    );
    const client = policyDistributionClient(address, credentials.createInsecure());
    try {
      const reader = new StreamReader(client.WatchPolicies({}));
      await reader.next(0);
      broken = true;
      feed.set(testSnapshot('v2'));
      const s = await reader.status;
      assert.equal(s.code, status.INTERNAL);
      assert.equal(s.details, 'internal error');
      assert.deepEqual(logs, ['policy distribution: internal error: store unreachable']);
      await until(() => feed.listeners === 0, 'the failed stream to unsubscribe');
    } finally {
      client.close();
      server.forceShutdown();
      await dir.remove();
    }
  });
});

describe('createPolicyDistributionService (mTLS: the caller is its client certificate)', () => {
  const SERVER = 'spiffe://example.org/parley/server';
  const AGENT = 'spiffe://example.org/spire/agent/join_token/node-1';
  const STRANGER = 'spiffe://example.org/workload/web';
  let ca: TestCa;
  let other: TestCa;
  let server: Server;
  let port: number;
  let rootPem: Buffer;
  const feed = new TestFeed(testSnapshot('v1'));
  const seen: (string | undefined)[] = [];

  before(async () => {
    ca = await makeTestCa();
    other = await makeTestCa();
    rootPem = Buffer.from(encodePem('CERTIFICATE', ca.root.raw));
    const serverSvid = await ca.mintSvid(SERVER);
    ({ server, port } = await serve(
      {
        current: () => feed.current(),
        subscribe: (l) => feed.subscribe(l),
        authenticate: (raw) => {
          const r = verifyX509Svid([raw], bundleSet(testBundle(ca)), systemClock);
          return r.ok ? r.svid.spiffeId.toString() : undefined;
        },
        authorize: (peer) => {
          seen.push(peer);
          return peer?.startsWith('spiffe://example.org/spire/agent/') === true;
        },
      },
      '127.0.0.1:0',
      // TLS accepts either authority, so that `authenticate` (the current bundle) decides.
      ServerCredentials.createSsl(
        Buffer.concat([rootPem, Buffer.from(encodePem('CERTIFICATE', other.root.raw))]),
        [
          {
            cert_chain: Buffer.from(encodePem('CERTIFICATE', serverSvid.der)),
            private_key: Buffer.from(serverSvid.key.export({ type: 'pkcs8', format: 'pem' })),
          },
        ],
        true,
      ),
    ));
  });

  after(() => server.forceShutdown());

  async function as(id: string, authority: TestCa = ca): Promise<ChannelCredentials> {
    const svid = await authority.mintSvid(id);
    return credentials.createSsl(
      rootPem,
      Buffer.from(svid.key.export({ type: 'pkcs8', format: 'pem' })),
      Buffer.from(encodePem('CERTIFICATE', svid.der)),
      { checkServerIdentity: () => undefined },
    );
  }

  it('admits an agent by the SPIFFE ID of its verified certificate', async () => {
    const client = policyDistributionClient(`127.0.0.1:${port}`, await as(AGENT));
    const reader = new StreamReader(client.WatchPolicies({}));
    try {
      assert.equal((await reader.next(0)).version, 'v1');
      assert.ok(seen.includes(AGENT));
    } finally {
      reader.stream.cancel();
      client.close();
    }
  });

  it('refuses another workload of the trust domain', async () => {
    const client = policyDistributionClient(`127.0.0.1:${port}`, await as(STRANGER));
    try {
      const s = await new StreamReader(client.WatchPolicies({})).status;
      assert.equal(s.code, status.PERMISSION_DENIED);
      assert.equal(s.details, `${STRANGER} may not watch policies`);
    } finally {
      client.close();
    }
  });

  it('refuses with UNAUTHENTICATED a certificate that authenticate rejects', async () => {
    const client = policyDistributionClient(`127.0.0.1:${port}`, await as(AGENT, other));
    try {
      const s = await new StreamReader(client.WatchPolicies({})).status;
      assert.equal(s.code, status.UNAUTHENTICATED);
      assert.equal(s.details, 'the client certificate is not a valid X509-SVID');
    } finally {
      client.close();
    }
  });
});

/** The test CA's bundle, as the server's bundle source would hold it. */
function testBundle(ca: TestCa): Bundle {
  return {
    trustDomain: parseTrustDomain('example.org'),
    x509Authorities: [ca.root],
    jwtAuthorities: new Map(),
  };
}

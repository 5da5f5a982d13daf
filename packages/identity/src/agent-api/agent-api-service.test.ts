import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Client, Server, credentials, status } from '@grpc/grpc-js';
import {
  type AgentSvidMessage,
  type BatchNewX509SvidResponseMessage,
  type NewJwtSvidResponseMessage,
  type SyncEntriesResponseMessage,
  loadAgentApi,
} from '@parley/api';
import {
  JwtSvidMinter,
  type SpiffeId,
  bundleSet,
  encodePem,
  generateKey,
  keyObjectSigner,
  mintCertificateRequest,
  parseDuration,
  parseSpiffeId,
  parseTrustDomain,
  systemClock,
  verifyJwtSvid,
  verifyX509Svid,
} from '@parley/core';
import { makeTestCa } from '@parley/testing';
import type { RegistrationEntry } from '../entries/registration-entry.js';
import { joinTokenAttestor, newJoinToken } from '../node-attestation/join-token.js';
import { type AgentRecord, createAgentApiService } from './agent-api-service.js';
import { RotatingTlsMaterial, agentApiServerCredentials } from './tls-credentials.js';

const td = parseTrustDomain('example.org');
const serverId = parseSpiffeId('spiffe://example.org/parley/server');

type Unary = (req: unknown, cb: (err: Error | null, res: unknown) => void) => void;
function unary<T>(client: Client, method: string, req: unknown): Promise<T> {
  return new Promise((resolve, reject) =>
    (client as unknown as Record<string, Unary>)[method]!.call(client, req, (err, res) =>
      err ? reject(err) : resolve(res as T),
    ),
  );
}

function entry(id: string, spiffeId: string, parentId: string): RegistrationEntry {
  return {
    id,
    spiffeId: parseSpiffeId(spiffeId),
    parentId: parseSpiffeId(parentId),
    selectors: [{ type: 'unix', value: 'uid:1000' }],
    x509SvidTtl: 0,
    jwtSvidTtl: 0,
    dnsNames: [],
    federatesWith: [],
    hint: '',
    admin: false,
    downstream: false,
    revision: 1,
    createdAt: 0,
    updatedAt: 0,
  };
}

describe('agent API over mTLS', () => {
  let server: Server;
  let port = 0;
  let rootPem = '';
  const ca = makeTestCa();
  const agents = new Map<string, AgentRecord>();
  const tokens = new Map<string, SpiffeId>();
  const entries: RegistrationEntry[] = [];
  let token = '';
  let agentId: SpiffeId;

  const checkServer = (_host: string, cert: { subjectaltname?: string }) =>
    cert.subjectaltname?.split(', ').includes(`URI:${serverId.toString()}`)
      ? undefined
      : new Error('not the Parley server');

  before(async () => {
    const testCa = await ca;
    rootPem = encodePem('CERTIFICATE', testCa.root.raw);
    const jwt = new JwtSvidMinter({ signer: testCa.signer, keyId: 'k1' }, systemClock);
    const serverKey = generateKey('ec-p256');
    const serverCert = await testCa.minter.mintSvid({
      spiffeId: serverId,
      publicKey: keyObjectSigner(serverKey).publicKey,
      ttl: parseDuration('1h'),
      dnsNames: ['localhost'],
    });
    const material = new RotatingTlsMaterial();
    material.setIdentity([serverCert.der], serverKey.export({ type: 'pkcs8', format: 'der' }));
    material.setCaCertificates([testCa.root.raw]);

    const joined = newJoinToken(td);
    token = joined.token;
    agentId = joined.agentId;
    tokens.set(joined.token, joined.agentId);
    entries.push(entry('web', 'spiffe://example.org/web', agentId.toString()));
    entries.push(entry('web-child', 'spiffe://example.org/web/child', 'spiffe://example.org/web'));
    entries.push(
      entry('elsewhere', 'spiffe://example.org/db', 'spiffe://example.org/parley/agent/other'),
    );

    server = new Server();
    server.addService(
      loadAgentApi().service,
      createAgentApiService({
        trustDomain: td,
        serverId,
        clock: systemClock,
        attestors: new Map([
          [
            'join_token',
            joinTokenAttestor({
              store: {
                consumeJoinToken: async (h) => {
                  const id = tokens.get(h);
                  tokens.delete(h);
                  return id && { agentId: id };
                },
              },
              clock: systemClock,
            }),
          ],
        ]),
        agents: {
          getAgent: async (id) => agents.get(id.toString()),
          saveAttestedAgent: async (a) =>
            void agents.set(a.spiffeId.toString(), {
              ...a,
              newCertSerialNumber: undefined,
              banned: false,
            }),
          saveRenewedSerial: async (id, serial) => {
            const a = agents.get(id.toString());
            if (a) agents.set(id.toString(), { ...a, newCertSerialNumber: serial });
          },
        },
        entries: {
          entriesByParents: async (ids) =>
            entries.filter((e) => ids.some((p) => p.equals(e.parentId))),
        },
        ca: {
          mintX509Svid: async (req) => {
            const m = await testCa.minter.mintSvid(req);
            return {
              certChain: [m.der],
              serialNumber: Buffer.from(m.serialNumber).toString('hex'),
              expiresAt: m.notAfter,
            };
          },
          mintJwtSvid: (req) => jwt.mint(req),
          bundle: () => ({
            trustDomain: td,
            x509Authorities: [testCa.root],
            jwtAuthorities: new Map([['k1', testCa.signer.publicKey]]),
          }),
          intermediates: () => [],
          taintedAuthorityIds: () => [],
        },
        federatedBundles: async () => [],
        agentSvidTtl: parseDuration('1h'),
        defaultX509SvidTtl: parseDuration('1h'),
        defaultJwtSvidTtl: parseDuration('5m'),
      }),
    );
    port = await new Promise((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', agentApiServerCredentials(material), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
  });

  after(() => server.forceShutdown());

  const AgentApi = loadAgentApi();
  const anonymous = () =>
    new AgentApi(
      `127.0.0.1:${port}`,
      credentials.createSsl(Buffer.from(rootPem), null, null, { checkServerIdentity: checkServer }),
    );

  async function attest(
    joinToken: string,
  ): Promise<{ svid: AgentSvidMessage; key: ReturnType<typeof generateKey> }> {
    const key = generateKey('ec-p256');
    const csr = await mintCertificateRequest(keyObjectSigner(key));
    const client = anonymous();
    try {
      const stream = (
        client as unknown as {
          AttestAgent(): NodeJS.ReadWriteStream & { write(m: unknown): boolean };
        }
      ).AttestAgent();
      const result = new Promise<AgentSvidMessage>((resolve, reject) => {
        stream.on('data', (m: { result?: AgentSvidMessage }) => m.result && resolve(m.result));
        stream.on('error', reject);
      });
      stream.write({
        params: {
          data: { type: 'join_token', payload: Buffer.from(joinToken) },
          csr: Buffer.from(csr),
        },
      });
      stream.end();
      return { svid: await result, key };
    } finally {
      client.close();
    }
  }

  const asAgent = (svid: AgentSvidMessage, key: ReturnType<typeof generateKey>) =>
    new AgentApi(
      `127.0.0.1:${port}`,
      credentials.createSsl(
        Buffer.from(rootPem),
        Buffer.from(encodePem('PRIVATE KEY', key.export({ type: 'pkcs8', format: 'der' }))),
        Buffer.from(svid.cert_chain.map((c) => encodePem('CERTIFICATE', c)).join('')),
        { checkServerIdentity: checkServer },
      ),
    );

  it('attests with a join token once, then serves entries, SVIDs and JWTs to that agent only', async () => {
    const { svid, key } = await attest(token);
    assert.equal(svid.spiffe_id, agentId.toString());
    await assert.rejects(
      attest(token),
      (e: { code: number }) => e.code === +status.PERMISSION_DENIED,
    );

    const client = asAgent(svid, key);
    try {
      const sync = await unary<SyncEntriesResponseMessage>(client, 'SyncEntries', { known: [] });
      assert.deepEqual(sync.changed.map((e) => e.id).sort(), ['web', 'web-child']);
      const again = await unary<SyncEntriesResponseMessage>(client, 'SyncEntries', {
        known: [
          { id: 'web', revision: '1' },
          { id: 'gone', revision: '3' },
        ],
      });
      assert.deepEqual(
        again.changed.map((e) => e.id),
        ['web-child'],
      );
      assert.deepEqual(again.removed, ['gone']);

      const workloadKey = keyObjectSigner(generateKey('ec-p256'));
      const csr = Buffer.from(await mintCertificateRequest(workloadKey));
      const batch = await unary<BatchNewX509SvidResponseMessage>(client, 'BatchNewX509SVID', {
        params: [
          { entry_id: 'web', csr },
          { entry_id: 'elsewhere', csr },
          { entry_id: 'web', csr: Buffer.from('junk') },
        ],
      });
      const [ok, foreign, junk] = batch.results;
      assert.equal(ok?.status?.code, 0);
      const bundle = (await ca).root;
      const verified = verifyX509Svid(
        ok?.cert_chain ?? [],
        bundleSet({ trustDomain: td, x509Authorities: [bundle], jwtAuthorities: new Map() }),
        systemClock,
      );
      assert.ok(verified.ok && verified.svid.spiffeId.toString() === 'spiffe://example.org/web');
      assert.equal(foreign?.status?.code, status.PERMISSION_DENIED);
      assert.equal(junk?.status?.code, status.INVALID_ARGUMENT);

      const jwt = await unary<NewJwtSvidResponseMessage>(client, 'NewJWTSVID', {
        entry_id: 'web-child',
        audience: ['db'],
      });
      const testCa = await ca;
      const checked = verifyJwtSvid(
        jwt.token,
        bundleSet({
          trustDomain: td,
          x509Authorities: [],
          jwtAuthorities: new Map([['k1', testCa.signer.publicKey]]),
        }),
        ['db'],
        systemClock,
      );
      assert.ok(
        checked.ok && checked.svid.spiffeId.toString() === 'spiffe://example.org/web/child',
      );
    } finally {
      client.close();
    }
  });

  it('refuses calls without an agent SVID, and banned or evicted agents', async () => {
    const client = anonymous();
    try {
      await assert.rejects(
        unary(client, 'SyncEntries', { known: [] }),
        (e: { code: number }) => e.code === +status.UNAUTHENTICATED,
      );
    } finally {
      client.close();
    }
    const joined = newJoinToken(td);
    tokens.set(joined.token, joined.agentId);
    const { svid, key } = await attest(joined.token);
    const agentClient = asAgent(svid, key);
    try {
      agents.set(joined.agentId.toString(), {
        ...agents.get(joined.agentId.toString())!,
        banned: true,
      });
      await assert.rejects(
        unary(agentClient, 'SyncEntries', { known: [] }),
        (e: { code: number }) => e.code === +status.PERMISSION_DENIED,
      );
      agents.delete(joined.agentId.toString());
      await assert.rejects(
        unary(agentClient, 'GetBundles', {}),
        (e: { code: number }) => e.code === +status.PERMISSION_DENIED,
      );
    } finally {
      agentClient.close();
    }
  });
});

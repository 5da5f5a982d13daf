import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { type IncomingHttpHeaders, type Server, createServer, request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type Bundle,
  type Clock,
  ERROR_CODES,
  generateKey,
  keyObjectSigner,
  mintCertificateRequest,
  parseBundle,
  parseSpiffeId,
  parseTrustDomain,
} from '@parley/core';
import { type Database, createAgent, openStore, setBundle, verifyAuditChain } from '@parley/store';
import { type TempDir, makeTempDir } from '@parley/testing';
import { MemoryAuthorityJournal } from '../ca/authority-journal.js';
import { Ca } from '../ca/ca.js';
import { MemoryKeyManager } from '../key-manager/memory-key-manager.js';
import type { AdminCa } from './admin-api-deps.js';
import { createAdminApi } from './admin-api.js';
import { HTTP_STATUS } from './http-status.js';
import { MAX_BODY_BYTES } from './request-body.js';

const td = parseTrustDomain('example.org');
const T0 = Date.UTC(2031, 0, 1);
const AGENT = 'spiffe://example.org/parley/agent/node-1';

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly json: { error?: { code: string; message: string } } & Record<string, unknown>;
}

/** One HTTP request on the admin socket; `body` objects are sent as JSON. */
function call(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const payload =
    body === undefined
      ? undefined
      : Buffer.isBuffer(body)
        ? body
        : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method,
        path,
        headers: {
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': payload.length }),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            json: JSON.parse(Buffer.concat(chunks).toString()) as Reply['json'],
          }),
        );
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

function expectError(r: Reply, code: string, message?: RegExp): void {
  assert.equal(r.json.error?.code, code, JSON.stringify(r.json));
  assert.equal(r.status, HTTP_STATUS[code as keyof typeof HTTP_STATUS]);
  if (message !== undefined) assert.match(r.json.error?.message ?? '', message);
}

async function start(dir: TempDir, name: string, ca: AdminCa, db: Database, clock: Clock) {
  const logged: unknown[] = [];
  const socket = join(dir.path, `${name}.sock`);
  const server = createServer(
    createAdminApi({ db, ca, trustDomain: td, clock, log: (_m, cause) => logged.push(cause) }),
  );
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { socket, server, logged };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('admin API', () => {
  let dir: TempDir;
  let db: Database;
  let ca: Ca;
  let api: Awaited<ReturnType<typeof start>>;
  const clock = { t: T0, now: () => clock.t };
  const send = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    call(api.socket, method, path, body, headers);
  const entry = (spiffeId: string, selector = 'uid:1000') => ({
    spiffeId,
    parentId: AGENT,
    selectors: [{ type: 'unix', value: selector }],
  });

  before(async () => {
    dir = await makeTempDir('parley-admin-');
    db = await openStore({ sqlite: { path: join(dir.path, 'store.db') } });
    ca = await Ca.open(
      { trustDomain: td },
      { keyManager: new MemoryKeyManager(), journal: new MemoryAuthorityJournal(), clock },
    );
    api = await start(dir, 'admin', ca, db, clock);
  });

  after(async () => {
    await stop(api.server);
    await db.close();
    await dir.remove();
  });

  it('maps every error code to an HTTP status', () => {
    for (const code of ERROR_CODES) assert.ok(HTTP_STATUS[code] >= 400, code);
  });

  it('answers health', async () => {
    const r = await send('GET', '/v1/health');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ok', trustDomain: 'example.org' });
  });

  it('parses requests strictly at the edge', async () => {
    expectError(await send('GET', '/v1/nope'), 'not-found', /no admin API endpoint GET \/v1\/nope/);
    expectError(await send('DELETE', '/v1/health'), 'not-found');
    expectError(
      await send('GET', '/v1/entries?bogus=1'),
      'invalid-argument',
      /unknown query parameter "bogus"/,
    );
    expectError(
      await send('GET', '/v1/entries?pageSize=1&pageSize=2'),
      'invalid-argument',
      /more than once/,
    );
    expectError(await send('GET', '/v1/entries?pageSize=-1'), 'invalid-argument', /pageSize/);
    expectError(await send('GET', '/v1/entries?pageToken=zzz'), 'invalid-argument', /page token/);
    expectError(await send('GET', '/v1/entries/%E0%A4%A'), 'invalid-argument', /percent-encoding/);
    expectError(await send('GET', '/v1/health', {}), 'invalid-argument', /takes no request body/);
    expectError(
      await send('POST', '/v1/entries', 'x', { 'content-type': 'text/plain' }),
      'invalid-argument',
      /must be JSON/,
    );
    expectError(
      await send('POST', '/v1/entries', '{"spiffeId": 1,}'),
      'invalid-argument',
      /invalid JSON/,
    );
    expectError(
      await send(
        'POST',
        '/v1/entries',
        '{"spiffeId":"spiffe://example.org/a","spiffeId":"spiffe://example.org/b"}',
      ),
      'invalid-argument',
      /duplicate/,
    );
    expectError(
      await send('POST', '/v1/entries', Buffer.from([0x7b, 0xff, 0x7d])),
      'invalid-argument',
      /UTF-8/,
    );
    expectError(await send('POST', '/v1/entries', []), 'invalid-argument', /must be an object/);
    const unknown = await send('POST', '/v1/entries', {
      ...entry('spiffe://example.org/a'),
      extra: true,
      __proto__x: 1,
    });
    expectError(unknown, 'invalid-argument', /extra: unknown field; __proto__x: unknown field/);
    const typed = await send('POST', '/v1/entries', {
      spiffeId: 'spiffe://example.org/a',
      parentId: 7,
      selectors: [{ type: 'unix' }],
      admin: 'yes',
      x509SvidTtl: -1,
      expiresAt: '2030-13-01T00:00:00Z',
    });
    expectError(typed, 'invalid-argument');
    for (const part of [
      'parentId: must be a string',
      'selectors[0].value: is required',
      'admin: must be true or false',
      'x509SvidTtl: must be an integer',
      'expiresAt: invalid time',
    ])
      assert.ok(
        typed.json.error?.message.includes(part),
        `${part} in ${typed.json.error?.message}`,
      );
  });

  it('refuses a body over 1 MiB and closes the connection', async () => {
    const big = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20);
    const r = await send('POST', '/v1/entries', big);
    expectError(r, 'invalid-argument', /exceeds 1048576 bytes/);
    assert.equal(r.headers.connection, 'close');
    // Without a declared length (chunked), the limit holds while reading.
    const chunked = await new Promise<Reply>((resolve, reject) => {
      const req = request(
        {
          socketPath: api.socket,
          method: 'POST',
          path: '/v1/entries',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              json: JSON.parse(Buffer.concat(chunks).toString()) as Reply['json'],
            }),
          );
        },
      );
      req.on('error', reject);
      req.write(Buffer.alloc(MAX_BODY_BYTES / 2, 0x20));
      req.write(Buffer.alloc(MAX_BODY_BYTES / 2 + 10, 0x20));
    });
    expectError(chunked, 'invalid-argument', /exceeds/);
  });

  it('creates join tokens: shown once, stored and audited as a hash only', async () => {
    const r = await send('POST', '/v1/join-tokens', { ttl: 60 });
    assert.equal(r.status, 201);
    assert.equal(r.headers['cache-control'], 'no-store');
    const token = r.json['token'] as string;
    assert.match(
      r.json['agentSpiffeId'] as string,
      /^spiffe:\/\/example\.org\/parley\/agent\/join_token\//,
    );
    assert.equal(r.json['expiresAt'], new Date(T0 + 60_000).toISOString());
    const defaulted = await send('POST', '/v1/join-tokens', {});
    assert.equal(defaulted.json['expiresAt'], new Date(T0 + 600_000).toISOString());
    const rows = JSON.stringify([
      ...(await db.query('SELECT * FROM join_tokens')),
      ...(await db.query('SELECT * FROM audit_events')),
    ]);
    assert.ok(!rows.includes(token) && !rows.includes(defaulted.json['token'] as string));
    expectError(
      await send('POST', '/v1/join-tokens', { ttl: 0 }),
      'invalid-argument',
      /ttl: must be an integer between 1/,
    );
    expectError(await send('POST', '/v1/join-tokens', { ttl: 30 * 86400 + 1 }), 'invalid-argument');
    expectError(await send('POST', '/v1/join-tokens', { ttl: '1h' }), 'invalid-argument');
    expectError(
      await send('POST', '/v1/join-tokens', { token: 'chosen' }),
      'invalid-argument',
      /token: unknown field/,
    );
    expectError(
      await send('POST', '/v1/join-tokens', { spiffeId: 'spiffe://example.org/parley/server' }),
      'invalid-argument',
      /under \/parley\/agent\//,
    );
  });

  it('creates, reads, pages, updates and deletes entries, auditing each change', async () => {
    const created = await send('POST', '/v1/entries', {
      ...entry('spiffe://example.org/one'),
      id: 'one',
      x509SvidTtl: 60,
    });
    assert.equal(created.status, 201);
    assert.equal(created.json['revision'], 0);
    assert.equal(created.json['createdAt'], new Date(T0).toISOString());
    expectError(
      await send('POST', '/v1/entries', entry('spiffe://example.org/one')),
      'already-exists',
    );
    await send('POST', '/v1/entries', { ...entry('spiffe://example.org/two', 'uid:2'), id: 'two' });
    await send('POST', '/v1/entries', {
      ...entry('spiffe://example.org/three', 'uid:3'),
      id: 'three',
    });

    const first = await send('GET', '/v1/entries?pageSize=2');
    assert.deepEqual(
      (first.json['entries'] as { id: string }[]).map((e) => e.id),
      ['one', 'three'],
    );
    const next = first.json['nextPageToken'] as string;
    const second = await send('GET', `/v1/entries?pageSize=2&pageToken=${next}`);
    assert.deepEqual(
      (second.json['entries'] as { id: string }[]).map((e) => e.id),
      ['two'],
    );
    assert.equal(second.json['nextPageToken'], undefined);
    const exact = await send('GET', '/v1/entries?selector=unix:uid:2&match=exact');
    assert.deepEqual(
      (exact.json['entries'] as { id: string }[]).map((e) => e.id),
      ['two'],
    );
    expectError(
      await send('GET', '/v1/entries?match=exact'),
      'invalid-argument',
      /needs at least one selector/,
    );
    expectError(
      await send('GET', '/v1/entries?selector=unix'),
      'invalid-argument',
      /invalid selector/,
    );
    expectError(
      await send('GET', '/v1/entries?parentId=spiffe://x/../y'),
      'invalid-argument',
      /invalid SPIFFE ID/,
    );

    clock.t = T0 + 1000;
    const update = { ...entry('spiffe://example.org/one'), hint: 'h', revision: 0 };
    const updated = await send('PUT', '/v1/entries/one', update);
    assert.equal(updated.status, 200, JSON.stringify(updated.json));
    assert.equal(updated.json['revision'], 1);
    assert.equal(updated.json['x509SvidTtl'], 0, 'an update replaces every field');
    assert.equal(updated.json['updatedAt'], new Date(T0 + 1000).toISOString());
    expectError(
      await send('PUT', '/v1/entries/one', update),
      'failed-precondition',
      /changed meanwhile/,
    );
    expectError(
      await send('PUT', '/v1/entries/one', entry('spiffe://example.org/one')),
      'invalid-argument',
      /revision: is required/,
    );
    expectError(
      await send('PUT', '/v1/entries/one', { ...update, id: 'x' }),
      'invalid-argument',
      /id: unknown field/,
    );
    expectError(
      await send('PUT', '/v1/entries/one', {
        ...entry('spiffe://example.org/two', 'uid:2'),
        revision: 1,
      }),
      'already-exists',
    );
    expectError(await send('PUT', '/v1/entries/none', { ...update, revision: 0 }), 'not-found');

    const deleted = await send('DELETE', '/v1/entries/one');
    assert.equal(deleted.json['id'], 'one');
    expectError(await send('GET', '/v1/entries/one'), 'not-found');
    expectError(await send('DELETE', '/v1/entries/one'), 'not-found');
    const audit = await db.query<{ action: string; subject: string; detail: string }>(
      "SELECT action, subject, detail FROM audit_events WHERE action LIKE 'entry.%' ORDER BY seq",
    );
    assert.deepEqual(
      audit.map((a) => `${a.action} ${a.subject}`),
      [
        'entry.create one',
        'entry.create two',
        'entry.create three',
        'entry.update one',
        'entry.delete one',
      ],
    );
    assert.match(audit[0]?.detail ?? '', /"via":"admin-api"/);
  });

  it('creates a batch with a result per item, in order', async () => {
    const r = await send('POST', '/v1/entries/batch', {
      entries: [
        entry('spiffe://example.org/b1', 'uid:101'),
        entry('spiffe://example.org/b1', 'uid:101'),
        { ...entry('spiffe://example.org/parley/x', 'uid:102') },
        'nonsense',
        entry('spiffe://example.org/b2', 'uid:103'),
      ],
    });
    assert.equal(r.status, 200);
    const results = r.json['results'] as (
      { entry: { spiffeId: string } } | { error: { code: string; message: string } }
    )[];
    assert.deepEqual(
      results.map((x) => ('entry' in x ? x.entry.spiffeId : x.error.code)),
      [
        'spiffe://example.org/b1',
        'already-exists',
        'invalid-argument',
        'invalid-argument',
        'spiffe://example.org/b2',
      ],
    );
    expectError(
      await send('POST', '/v1/entries/batch', {}),
      'invalid-argument',
      /entries: is required/,
    );
    expectError(
      await send('POST', '/v1/entries/batch', { entries: Array.from({ length: 501 }, () => ({})) }),
      'invalid-argument',
      /at most 500/,
    );
  });

  it('lists, shows, bans and evicts agents', async () => {
    const id = parseSpiffeId(AGENT);
    await db.transaction((tx) =>
      createAgent(
        tx,
        {
          spiffeId: id,
          attestationType: 'join_token',
          selectors: [],
          certSerialNumber: '0a',
          certNotAfter: T0 + 3_600_000,
        },
        T0,
      ),
    );
    const path = `/v1/agents/${encodeURIComponent(AGENT)}`;
    const listed = await send('GET', '/v1/agents');
    assert.deepEqual(
      (listed.json['agents'] as { spiffeId: string }[]).map((a) => a.spiffeId),
      [AGENT],
    );
    assert.equal((await send('GET', path)).json['certSerialNumber'], '0a');
    assert.equal((await send('POST', path + '/ban')).json['banned'], true);
    assert.deepEqual((await send('GET', '/v1/agents?banned=false')).json['agents'], []);
    expectError(await send('GET', '/v1/agents?banned=maybe'), 'invalid-argument');
    assert.equal((await send('DELETE', path)).json['spiffeId'], AGENT);
    expectError(await send('GET', path), 'not-found', /not attested/);
    expectError(await send('DELETE', path), 'not-found');
    expectError(await send('GET', '/v1/agents/not-an-id'), 'invalid-argument', /invalid SPIFFE ID/);
    const actions = await db.query<{ action: string }>(
      "SELECT action FROM audit_events WHERE action LIKE 'agent.%' ORDER BY seq",
    );
    assert.deepEqual(
      actions.map((a) => a.action),
      ['agent.ban', 'agent.evict'],
    );
  });

  it('shows the own bundle from the CA and lists it with the federated ones', async () => {
    const own = await send('GET', '/v1/bundle');
    const bundle = parseBundle(td, own.json['document'] as string);
    assert.equal(bundle.sequenceNumber, ca.bundle().sequenceNumber);
    const partner = parseTrustDomain('partner.example');
    const federated: Bundle = { ...ca.bundle(), trustDomain: partner };
    await setBundle(db, federated, T0);
    // A stale copy of the own bundle in the store is not what the API serves.
    await setBundle(db, { ...ca.bundle(), jwtAuthorities: new Map(), sequenceNumber: 1n }, T0);
    const list = await send('GET', '/v1/bundles');
    const bundles = list.json['bundles'] as { trustDomain: string; document: string }[];
    assert.deepEqual(
      bundles.map((b) => b.trustDomain),
      ['example.org', 'partner.example'],
    );
    assert.equal(bundles[0]?.document, own.json['document']);
  });

  it('mints X509-SVIDs from a CSR and JWT-SVIDs, refusing bad requests', async () => {
    const key = generateKey('ec-p256');
    const csr = Buffer.from(await mintCertificateRequest(keyObjectSigner(key))).toString('base64');
    const ok = await send('POST', '/v1/x509/mint', {
      spiffeId: 'spiffe://example.org/tool',
      csr,
      ttl: 60,
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.match(ok.json['certChain'] as string, /^-----BEGIN CERTIFICATE-----/);
    assert.equal(ok.json['expiresAt'], new Date(clock.t + 60_000).toISOString());
    expectError(
      await send('POST', '/v1/x509/mint', {
        spiffeId: 'spiffe://example.org/tool',
        csr: 'not base64!',
      }),
      'invalid-argument',
      /csr: must be base64/,
    );
    const tampered = Buffer.from(csr, 'base64');
    tampered.writeUInt8((tampered.at(-5) ?? 0) ^ 1, tampered.length - 5);
    expectError(
      await send('POST', '/v1/x509/mint', {
        spiffeId: 'spiffe://example.org/tool',
        csr: tampered.toString('base64'),
      }),
      'invalid-argument',
      /csr:/,
    );
    expectError(
      await send('POST', '/v1/x509/mint', {
        spiffeId: 'spiffe://example.org/tool',
        csr,
        dnsNames: ['-bad'],
      }),
      'invalid-argument',
      /DNS name/,
    );
    expectError(
      await send('POST', '/v1/x509/mint', {
        spiffeId: 'spiffe://example.org/tool',
        csr,
        privateKey: 'x',
      }),
      'invalid-argument',
      /privateKey: unknown field/,
    );
    const jwt = await send('POST', '/v1/jwt/mint', {
      spiffeId: 'spiffe://example.org/tool',
      audience: ['db'],
    });
    assert.equal(jwt.status, 200);
    assert.equal(jwt.json['expiresAt'], new Date(clock.t + 300_000).toISOString());
    expectError(
      await send('POST', '/v1/jwt/mint', { spiffeId: 'spiffe://example.org/tool' }),
      'invalid-argument',
      /audience: is required/,
    );
    expectError(
      await send('POST', '/v1/jwt/mint', { spiffeId: 'spiffe://example.org/tool', audience: [] }),
      'invalid-argument',
      /1 to 16 audiences/,
    );
    const audit = await db.query<{ detail: string }>(
      "SELECT detail FROM audit_events WHERE action = 'jwt-svid.mint'",
    );
    assert.equal(audit.length, 1);
    assert.ok(!audit[0]?.detail.includes(jwt.json['token'] as string));
    assert.ok(createPublicKey(key));
  });

  it('reports authority refusals as failed-precondition or not-found', async () => {
    expectError(await send('GET', '/v1/authorities/rsa'), 'not-found', /x509 or jwt/);
    const active = ca.slots('x509').active?.id ?? '';
    expectError(
      await send('POST', '/v1/authorities/x509/taint', { id: active }),
      'failed-precondition',
      /active/,
    );
    expectError(
      await send('POST', '/v1/authorities/x509/activate', {}),
      'failed-precondition',
      /no X\.509 authority is prepared/,
    );
    expectError(await send('POST', '/v1/authorities/jwt/revoke', { id: 'nope' }), 'not-found');
    expectError(
      await send('POST', '/v1/authorities/jwt/revoke', {}),
      'invalid-argument',
      /id: is required/,
    );
    expectError(
      await send('POST', '/v1/authorities/x509/prepare', {}),
      'invalid-argument',
      /takes no request body/,
    );
    const listed = await send('GET', '/v1/authorities/jwt');
    assert.equal(listed.json['active'], ca.slots('jwt').active?.id);
    assert.deepEqual(await verifyAuditChain(db), {
      ok: true,
      count: (await db.query('SELECT seq FROM audit_events')).length,
    });
    assert.deepEqual(api.logged, []);
  });

  it('hides unexpected failures behind "internal error" and logs them', async () => {
    const broken: AdminCa = {
      bundle: () => {
        throw new Error('key material 3082 leaked in an exception');
      },
      mintX509Svid: (p) => ca.mintX509Svid(p),
      mintJwtSvid: (p) => ca.mintJwtSvid(p),
      x509Authorities: () => ca.x509Authorities(),
      jwtAuthorities: () => ca.jwtAuthorities(),
      slots: (kind) => ca.slots(kind),
      prepare: (kind) => ca.prepare(kind),
      activate: (kind, id) => ca.activate(kind, id),
      taint: (kind, id) => ca.taint(kind, id),
      revoke: (kind, id) => ca.revoke(kind, id),
    };
    const other = await start(dir, 'broken', broken, db, clock);
    try {
      const r = await call(other.socket, 'GET', '/v1/bundle');
      expectError(r, 'internal', /^internal error$/);
      assert.equal(other.logged.length, 1);
    } finally {
      await stop(other.server);
    }
  });
});

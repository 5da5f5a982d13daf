import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  bundleSet,
  decodePemBlocks,
  parseBundle,
  parseBundleMap,
  parsePrivateKey,
  parseTrustDomain,
  spkiOf,
  systemClock,
  verifyJwtSvid,
  verifyX509Svid,
} from '@parley/core';
import { Ca, MemoryAuthorityJournal, MemoryKeyManager, createAdminApi } from '@parley/identity';
import { type Database, consumeJoinToken, openStore, verifyAuditChain } from '@parley/store';
import { runCli } from '../cli.js';

const td = parseTrustDomain('example.org');

interface Harness {
  readonly dir: string;
  readonly socket: string;
  readonly db: Database;
  readonly ca: Ca;
  readonly server: Server;
  readonly logged: unknown[];
}

async function startAdmin(): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-cli-'));
  const db = await openStore({ sqlite: { path: join(dir, 'store.db') } });
  const ca = await Ca.open(
    { trustDomain: td },
    {
      keyManager: new MemoryKeyManager(),
      journal: new MemoryAuthorityJournal(),
      clock: systemClock,
    },
  );
  const logged: unknown[] = [];
  const socket = join(dir, 'admin.sock');
  const server = createServer(
    createAdminApi({
      db,
      ca,
      trustDomain: td,
      clock: systemClock,
      log: (_m, cause) => logged.push(cause),
    }),
  );
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { dir, socket, db, ca, server, logged };
}

describe('parley admin commands against a real admin API (SQLite, CA)', () => {
  let h: Harness;
  const tokens: string[] = [];

  /** Runs `parley …` in-process with the admin socket in the environment. */
  async function parley(...argv: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(argv, {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      env: { PARLEY_ADMIN_SOCKET: h.socket },
    });
    return { code, stdout, stderr };
  }

  /** Runs a command that must succeed, and returns its output. */
  async function ok(...argv: string[]): Promise<string> {
    const r = await parley(...argv);
    assert.equal(r.code, 0, `parley ${argv.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, '');
    return r.stdout;
  }

  /** Runs a command that must fail with `code` and one clean `parley: …` line. */
  async function fails(code: 1 | 2, argv: string[], message?: RegExp): Promise<string> {
    const r = await parley(...argv);
    assert.equal(r.code, code, `parley ${argv.join(' ')} exited ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, /^parley: [^\n]+\n$/, `not one line: ${JSON.stringify(r.stderr)}`);
    assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/, 'a stack trace leaked');
    if (message !== undefined) assert.match(r.stderr, message);
    return r.stderr;
  }

  before(async () => {
    h = await startAdmin();
  });

  after(async () => {
    h.server.closeAllConnections();
    await new Promise((resolve) => h.server.close(resolve));
    await h.db.close();
    await rm(h.dir, { recursive: true, force: true });
  });

  it('healthcheck exits 0 when the server answers, 1 when nothing listens', async () => {
    assert.match(await ok('healthcheck'), /healthy/);
    await fails(
      1,
      ['healthcheck', '--socket', join(h.dir, 'nope.sock')],
      /unhealthy: no admin socket/,
    );
  });

  it('token generate prints the token alone; -o json adds expiry and agent ID', async () => {
    const plain = (await ok('token', 'generate', '--ttl', '10m')).trim();
    assert.match(plain, /^[A-Za-z0-9_-]{43}$/);
    tokens.push(plain);
    const json = JSON.parse(await ok('token', 'generate', '-o', 'json')) as {
      token: string;
      agentSpiffeId: string;
      expiresAt: string;
    };
    tokens.push(json.token);
    assert.match(
      json.agentSpiffeId,
      /^spiffe:\/\/example\.org\/parley\/agent\/join_token\/[0-9a-f-]{36}$/,
    );
    assert.ok(Date.parse(json.expiresAt) > Date.now());
    const named = JSON.parse(
      await ok(
        'token',
        'generate',
        '--spiffe-id',
        'spiffe://example.org/parley/agent/node-1',
        '-o',
        'json',
      ),
    ) as { token: string; agentSpiffeId: string };
    tokens.push(named.token);
    assert.equal(named.agentSpiffeId, 'spiffe://example.org/parley/agent/node-1');
    // The token attests as the agent ID it was generated for, once.
    const consumed = await consumeJoinToken(h.db, named.token, Date.now());
    assert.equal(
      consumed.kind === 'consumed' && consumed.joinToken.spiffeId?.toString(),
      named.agentSpiffeId,
    );
    assert.equal((await consumeJoinToken(h.db, named.token, Date.now())).kind, 'not-found');

    await fails(
      1,
      ['token', 'generate', '--spiffe-id', 'spiffe://example.org/node-1'],
      /under \/parley\/agent\//,
    );
    await fails(
      1,
      ['token', 'generate', '--spiffe-id', 'spiffe://other.org/parley/agent/x'],
      /trust domain/,
    );
    await fails(2, ['token', 'generate', '--ttl', '10x'], /--ttl: invalid duration/);
    await fails(2, ['token', 'generate', '--ttl', '1500ms'], /whole number of seconds/);
    await fails(
      2,
      ['token', 'generate', '--spiffe-id', 'spiffe://Example.org/x'],
      /--spiffe-id: invalid SPIFFE ID/,
    );
  });

  it('entry create, show, list, update and delete', async () => {
    const agent = 'spiffe://example.org/parley/agent/node-1';
    const created = JSON.parse(
      await ok(
        'entry',
        'create',
        '--spiffe-id',
        'spiffe://example.org/web',
        '--parent-id',
        agent,
        '--selector',
        'unix:uid:1000',
        '--selector',
        'unix:gid:1000',
        '--x509-ttl',
        '1h',
        '--jwt-ttl',
        '5m',
        '--dns',
        'web.example.org',
        '--federates-with',
        'partner.example',
        '--hint',
        'web',
        '--admin',
        '--expires-at',
        '2040-01-01T00:00:00Z',
        '-o',
        'json',
      ),
    ) as {
      id: string;
      revision: number;
      x509SvidTtl: number;
      jwtSvidTtl: number;
      expiresAt: string;
    };
    assert.equal(created.revision, 0);
    assert.equal(created.x509SvidTtl, 3600);
    assert.equal(created.jwtSvidTtl, 300);
    assert.equal(created.expiresAt, '2040-01-01T00:00:00.000Z');

    const shown = await ok('entry', 'show', '--id', created.id);
    assert.match(shown, /SPIFFE ID: +spiffe:\/\/example\.org\/web/);
    assert.match(shown, /Selectors: +unix:gid:1000, unix:uid:1000/);
    assert.match(shown, /X509-SVID TTL: +3600s/);
    const yaml = await ok('entry', 'show', '--id', created.id, '-o', 'yaml');
    assert.match(yaml, /^spiffeId: spiffe:\/\/example\.org\/web$/m);

    await ok(
      'entry',
      'create',
      '--spiffe-id',
      'spiffe://example.org/db',
      '--parent-id',
      agent,
      '--selector',
      'unix:uid:2000',
      '--id',
      'db-entry',
    );
    const table = await ok('entry', 'list');
    assert.match(table.split('\n')[0] ?? '', /^ID +SPIFFE ID +PARENT ID/);
    assert.match(table, /db-entry +spiffe:\/\/example\.org\/db/);
    const bySelector = JSON.parse(
      await ok('entry', 'list', '--selector', 'unix:uid:2000', '-o', 'json'),
    ) as {
      entries: { id: string }[];
    };
    assert.deepEqual(
      bySelector.entries.map((e) => e.id),
      ['db-entry'],
    );
    const bySpiffeId = JSON.parse(
      await ok('entry', 'list', '--spiffe-id', 'spiffe://example.org/web', '-o', 'json'),
    ) as {
      entries: { id: string }[];
    };
    assert.deepEqual(
      bySpiffeId.entries.map((e) => e.id),
      [created.id],
    );

    const updated = JSON.parse(
      await ok(
        'entry',
        'update',
        '--id',
        created.id,
        '--x509-ttl',
        '2h',
        '--no-admin',
        '--expires-at',
        'never',
        '-o',
        'json',
      ),
    ) as {
      revision: number;
      x509SvidTtl: number;
      admin: boolean;
      expiresAt?: string;
      dnsNames: string[];
      hint: string;
    };
    assert.equal(updated.revision, 1);
    assert.equal(updated.x509SvidTtl, 7200);
    assert.equal(updated.admin, false);
    assert.equal(updated.expiresAt, undefined);
    assert.deepEqual(updated.dnsNames, ['web.example.org'], 'fields not named are kept');
    assert.equal(updated.hint, 'web');

    // Duplicates and bad input: clean one-line errors.
    await fails(
      1,
      [
        'entry',
        'create',
        '--spiffe-id',
        'spiffe://example.org/db',
        '--parent-id',
        agent,
        '--selector',
        'unix:uid:2000',
      ],
      /already exists/,
    );
    await fails(
      1,
      [
        'entry',
        'create',
        '--spiffe-id',
        'spiffe://example.org/x',
        '--parent-id',
        agent,
        '--selector',
        'unix:uid:1',
        '--id',
        'db-entry',
      ],
      /already exists/,
    );
    await fails(
      1,
      [
        'entry',
        'create',
        '--spiffe-id',
        'spiffe://example.org/parley/x',
        '--parent-id',
        agent,
        '--selector',
        'unix:uid:1',
      ],
      /reserved/,
    );
    await fails(
      1,
      [
        'entry',
        'create',
        '--spiffe-id',
        'spiffe://other.org/x',
        '--parent-id',
        agent,
        '--selector',
        'unix:uid:1',
      ],
      /not in trust domain/,
    );
    await fails(
      1,
      [
        'entry',
        'create',
        '--spiffe-id',
        'spiffe://example.org',
        '--parent-id',
        agent,
        '--selector',
        'unix:uid:1',
      ],
      /must have a path/,
    );
    await fails(
      1,
      [
        'entry',
        'create',
        '--spiffe-id',
        'spiffe://example.org/x',
        '--parent-id',
        agent,
        '--selector',
        'unix:uid:1',
        '--federates-with',
        'example.org',
      ],
      /own trust domain/,
    );
    await fails(
      1,
      [
        'entry',
        'create',
        '--spiffe-id',
        'spiffe://example.org/x',
        '--parent-id',
        agent,
        '--selector',
        'unix:uid:1',
        '--dns',
        'bad..name',
      ],
      /invalid DNS name/,
    );
    for (const [flag, value, why] of [
      ['--spiffe-id', 'spiffe://example.org/a/../b', /--spiffe-id: invalid SPIFFE ID/],
      ['--spiffe-id', 'http://example.org/x', /--spiffe-id: invalid SPIFFE ID/],
      ['--spiffe-id', 'spiffe://example.org/x?q=1', /--spiffe-id: invalid SPIFFE ID/],
      ['--spiffe-id', 'spiffe://exa mple.org/x', /--spiffe-id: invalid SPIFFE ID/],
      ['--parent-id', 'spiffe:///x', /--parent-id: invalid SPIFFE ID/],
      ['--selector', 'unix', /--selector: invalid selector/],
      ['--selector', 'unix:', /--selector: invalid selector/],
      ['--selector', ':uid:1', /--selector: invalid selector/],
      ['--selector', 'un ix:uid:1', /--selector: invalid selector type/],
      ['--x509-ttl', '5y', /--x509-ttl: invalid duration/],
      ['--x509-ttl=-5', '', /--x509-ttl: invalid duration/],
      ['--x509-ttl', '1h1h', /--x509-ttl: invalid duration/],
      ['--jwt-ttl', '99999999999999999', /--jwt-ttl: invalid duration/],
      ['--expires-at', '2030-02-30T00:00:00Z', /--expires-at: invalid time/],
      ['--federates-with', 'spiffe://partner.example', /--federates-with: invalid trust domain/],
    ] as const) {
      const argv = [
        'entry',
        'create',
        '--spiffe-id',
        'spiffe://example.org/x',
        '--parent-id',
        agent,
        '--selector',
        'unix:uid:1',
      ];
      const at = argv.indexOf(flag);
      if (at >= 0) argv[at + 1] = value;
      else if (value === '') argv.push(flag);
      else argv.push(flag, value);
      await fails(2, argv, why);
    }
    await fails(1, ['entry', 'show', '--id', 'no-such-entry'], /not found/);

    const deleted = await ok('entry', 'delete', '--id', 'db-entry');
    assert.match(deleted, /deleted entry db-entry/);
    await fails(1, ['entry', 'delete', '--id', 'db-entry'], /not found/);
  });

  it('entry update refuses a change made meanwhile (revision conflict) at the API', async () => {
    const e = JSON.parse(
      await ok(
        'entry',
        'create',
        '--spiffe-id',
        'spiffe://example.org/conflict',
        '--parent-id',
        'spiffe://example.org/parley/agent/n',
        '--selector',
        'k:v',
        '-o',
        'json',
      ),
    ) as { id: string };
    // Two updates based on revision 0: the second is refused.
    const { adminClient } = await import('../admin-client.js');
    const client = adminClient(h.socket);
    const body = {
      spiffeId: 'spiffe://example.org/conflict',
      parentId: 'spiffe://example.org/parley/agent/n',
      selectors: [{ type: 'k', value: 'v' }],
      revision: 0,
    };
    await client.put(`/v1/entries/${e.id}`, { ...body, hint: 'first' });
    await assert.rejects(client.put(`/v1/entries/${e.id}`, { ...body, hint: 'second' }), {
      code: 'failed-precondition',
      message: /revision 1, not the expected 0/,
    });
    await ok('entry', 'delete', '--id', e.id);
  });

  it('entry create --file creates a batch with per-item results', async () => {
    const file = join(h.dir, 'entries.json');
    const parentId = 'spiffe://example.org/parley/agent/node-1';
    await writeFile(
      file,
      JSON.stringify({
        entries: [
          {
            spiffeId: 'spiffe://example.org/batch/a',
            parentId,
            selectors: [{ type: 'unix', value: 'uid:10' }],
          },
          {
            spiffeId: 'spiffe://example.org/batch/b',
            parentId,
            selectors: [{ type: 'unix', value: 'uid:11' }],
            x509SvidTtl: 60,
          },
        ],
      }),
    );
    const out = await ok('entry', 'create', '--file', file);
    assert.equal(out.match(/^created entry /gm)?.length, 2);

    // Again: both are duplicates now; one more is new. Exit 1, the new one is created anyway.
    await writeFile(
      file,
      JSON.stringify({
        entries: [
          {
            spiffeId: 'spiffe://example.org/batch/a',
            parentId,
            selectors: [{ type: 'unix', value: 'uid:10' }],
          },
          {
            spiffeId: 'spiffe://example.org/batch/c',
            parentId,
            selectors: [{ type: 'unix', value: 'uid:12' }],
          },
          { spiffeId: 'spiffe://example.org/batch/d', parentId, selectors: [], bogus: 1 },
        ],
      }),
    );
    const r = await parley('entry', 'create', '--file', file, '-o', 'json');
    assert.equal(r.code, 1);
    const { results } = JSON.parse(r.stdout) as {
      results: ({ entry: unknown } | { error: { code: string; message: string } })[];
    };
    assert.equal(results.length, 3);
    assert.ok('error' in results[0]! && results[0].error.code === 'already-exists');
    assert.ok('entry' in results[1]!);
    assert.ok('error' in results[2]! && /bogus: unknown field/.test(results[2].error.message));
    assert.equal(r.stderr.trim().split('\n').length, 2);
    const listed = JSON.parse(await ok('entry', 'list', '-o', 'json')) as {
      entries: { spiffeId: string }[];
    };
    assert.ok(listed.entries.some((e) => e.spiffeId === 'spiffe://example.org/batch/c'));

    await writeFile(file, '{"entries": [}');
    await fails(1, ['entry', 'create', '--file', file], /not JSON/);
    await fails(1, ['entry', 'create', '--file', join(h.dir, 'missing.json')], /cannot read/);
    await fails(2, ['entry', 'create', '--file', file, '--hint', 'x'], /takes no entry flags/);
  });

  it('agent list is empty; show, evict and ban of an unknown agent fail cleanly', async () => {
    assert.equal(await ok('agent', 'list'), '(none)\n');
    assert.deepEqual(JSON.parse(await ok('agent', 'list', '-o', 'json')), { agents: [] });
    const id = 'spiffe://example.org/parley/agent/ghost';
    await fails(1, ['agent', 'show', '--spiffe-id', id], /not attested/);
    await fails(1, ['agent', 'evict', '--spiffe-id', id], /not attested/);
    await fails(1, ['agent', 'ban', '--spiffe-id', id], /not attested/);
    await fails(2, ['agent', 'show'], /needs --spiffe-id/);
    await fails(2, ['agent', 'show', '--spiffe-id', 'nope'], /--spiffe-id: invalid SPIFFE ID/);
  });

  it('bundle show -o pem and -o spiffe; bundle list', async () => {
    const pem = await ok('bundle', 'show');
    const roots = decodePemBlocks(pem, 'CERTIFICATE');
    assert.equal(roots.length, 1);
    assert.deepEqual(Buffer.from(roots[0]!), Buffer.from(h.ca.bundle().x509Authorities[0]!.raw));
    const spiffe = parseBundle(td, await ok('bundle', 'show', '-o', 'spiffe'));
    assert.equal(spiffe.x509Authorities.length, 1);
    assert.deepEqual([...spiffe.jwtAuthorities.keys()], [...h.ca.bundle().jwtAuthorities.keys()]);
    assert.equal(spiffe.sequenceNumber, h.ca.bundle().sequenceNumber);
    assert.match(await ok('bundle', 'show', '-o', 'table'), /Trust domain: +example\.org/);
    const map = parseBundleMap(await ok('bundle', 'list', '-o', 'spiffe'));
    assert.deepEqual([...map.keys()], ['example.org']);
    assert.match(await ok('bundle', 'list'), /^# example\.org\n-----BEGIN CERTIFICATE-----/);
    await fails(2, ['bundle', 'show', '-o', 'xml'], /-o must be one of pem, spiffe/);
  });

  it('x509 mint: an SVID that verifies against the bundle, with its key', async () => {
    const out = JSON.parse(
      await ok(
        'x509',
        'mint',
        '--spiffe-id',
        'spiffe://example.org/admin-tool',
        '--ttl',
        '10m',
        '--dns',
        'tool.example.org',
        '-o',
        'json',
      ),
    ) as { certChain: string; privateKey: string; bundle: string; expiresAt: string };
    const chain = decodePemBlocks(out.certChain, 'CERTIFICATE');
    const bundle = parseBundle(td, await ok('bundle', 'show', '-o', 'spiffe'));
    const result = verifyX509Svid(chain, bundleSet(bundle), systemClock);
    assert.ok(result.ok, result.ok ? '' : result.reason);
    assert.equal(result.svid.spiffeId.toString(), 'spiffe://example.org/admin-tool');
    assert.deepEqual(result.svid.certificates[0]?.dnsNames, ['tool.example.org']);
    assert.ok(result.svid.expiresAt <= Date.now() + 10 * 60_000 + 1000);
    // The private key is the SVID's.
    const key = parsePrivateKey(out.privateKey);
    assert.deepEqual(
      Buffer.from(spkiOf(createPublicKey(key))),
      Buffer.from(result.svid.certificates[0].subjectPublicKeyInfo),
    );
    assert.deepEqual(decodePemBlocks(out.bundle, 'CERTIFICATE').length, 1);

    const dir = await mkdtemp(join(h.dir, 'svid-'));
    assert.match(
      await ok('x509', 'mint', '--spiffe-id', 'spiffe://example.org/admin-tool', '--write', dir),
      /wrote/,
    );
    assert.deepEqual((await readdir(dir)).sort(), ['bundle.pem', 'key.pem', 'svid.pem']);
    assert.equal((await stat(join(dir, 'key.pem'))).mode & 0o777, 0o600);
    const pemOut = await ok('x509', 'mint', '--spiffe-id', 'spiffe://example.org/admin-tool');
    assert.match(
      pemOut,
      /^X509-SVID:\n-----BEGIN CERTIFICATE-----[\s\S]*Private key:\n-----BEGIN PRIVATE KEY-----/,
    );

    await fails(1, ['x509', 'mint', '--spiffe-id', 'spiffe://other.org/x'], /not in trust domain/);
    await fails(
      1,
      ['x509', 'mint', '--spiffe-id', 'spiffe://example.org/parley/server'],
      /reserved/,
    );
    await fails(2, ['x509', 'mint'], /needs --spiffe-id/);
    await fails(
      2,
      ['x509', 'mint', '--spiffe-id', 'spiffe://example.org/x', '--ttl', '0'],
      /--ttl: must be at least 1s/,
    );
  });

  it('jwt mint: a token that verifies against the bundle for its audience', async () => {
    const token = (
      await ok(
        'jwt',
        'mint',
        '--spiffe-id',
        'spiffe://example.org/admin-tool',
        '--audience',
        'db',
        '--audience',
        'cache',
        '--ttl',
        '2m',
      )
    ).trim();
    const bundle = parseBundle(td, await ok('bundle', 'show', '-o', 'spiffe'));
    const result = verifyJwtSvid(token, bundleSet(bundle), ['cache'], systemClock);
    assert.ok(result.ok, result.ok ? '' : result.reason);
    assert.equal(result.svid.spiffeId.toString(), 'spiffe://example.org/admin-tool');
    assert.deepEqual([...result.svid.audience].sort(), ['cache', 'db']);
    const json = JSON.parse(
      await ok(
        'jwt',
        'mint',
        '--spiffe-id',
        'spiffe://example.org/t',
        '--audience',
        'x',
        '-o',
        'json',
      ),
    ) as { token: string; expiresAt: string };
    assert.ok(Date.parse(json.expiresAt) > Date.now());
    await fails(
      2,
      ['jwt', 'mint', '--spiffe-id', 'spiffe://example.org/t'],
      /at least one --audience/,
    );
    await fails(
      1,
      ['jwt', 'mint', '--spiffe-id', 'spiffe://other.org/t', '--audience', 'x'],
      /not in trust domain/,
    );
  });

  it('authority x509 prepare → show (two) → activate → taint → revoke', async () => {
    const before = JSON.parse(await ok('authority', 'x509', 'show', '-o', 'json')) as {
      active: string;
    };
    const prepared = JSON.parse(await ok('authority', 'x509', 'prepare', '-o', 'json')) as {
      authority: { id: string; status: string };
    };
    assert.equal(prepared.authority.status, 'prepared');
    const shown = JSON.parse(await ok('authority', 'x509', 'show', '-o', 'json')) as {
      authorities: { id: string; status: string }[];
      prepared: string;
      active: string;
    };
    assert.equal(shown.authorities.length, 2);
    assert.equal(shown.prepared, prepared.authority.id);
    assert.equal(decodePemBlocks(await ok('bundle', 'show'), 'CERTIFICATE').length, 2);
    const table = await ok('authority', 'x509', 'show');
    assert.match(table, new RegExp(`${prepared.authority.id} +prepared`));

    await fails(
      1,
      ['authority', 'x509', 'taint', '--id', before.active],
      /cannot taint the active/,
    );
    const activated = await ok('authority', 'x509', 'activate', '--id', prepared.authority.id);
    assert.match(activated, /Status: +active/);
    const tainted = JSON.parse(
      await ok('authority', 'x509', 'taint', '--id', before.active, '-o', 'json'),
    ) as {
      authority: { status: string };
    };
    assert.equal(tainted.authority.status, 'tainted');
    const revoked = JSON.parse(
      await ok('authority', 'x509', 'revoke', '--id', before.active, '-o', 'json'),
    ) as {
      authority: { status: string };
    };
    assert.equal(revoked.authority.status, 'revoked');
    assert.equal(decodePemBlocks(await ok('bundle', 'show'), 'CERTIFICATE').length, 1);

    await fails(
      1,
      ['authority', 'x509', 'revoke', '--id', 'no-such-authority'],
      /no X\.509 authority/,
    );
    await fails(
      1,
      ['authority', 'jwt', 'activate'],
      /nothing is prepared|no JWT authority is prepared/,
    );
    assert.match(await ok('authority', 'jwt', 'show'), /active/);
    await fails(2, ['authority', 'x509', 'taint'], /needs --id/);
    await fails(2, ['authority', 'rsa', 'show'], /needs a kind/);
    await fails(2, ['authority', 'x509', 'rotate'], /needs a subcommand/);
  });

  it('usage errors exit 2 with one line', async () => {
    await fails(2, ['entry'], /entry needs a subcommand: create\|update\|show\|list\|delete/);
    await fails(2, ['entry', 'frobnicate'], /unknown subcommand/);
    await fails(2, ['entry', 'list', '--bogus']);
    await fails(2, ['entry', 'list', 'extra']);
    await fails(2, ['entry', 'show'], /needs --id/);
    await fails(
      2,
      ['entry', 'create', '--spiffe-id', 'spiffe://example.org/x'],
      /needs --spiffe-id, --parent-id and at least one --selector/,
    );
    await fails(2, ['entry', 'list', '-o', 'xml'], /-o must be one of table, json, yaml/);
    await fails(
      2,
      ['entry', 'list', '--match', 'all', '--selector', 'a:b'],
      /--match must be one of/,
    );
    await fails(2, ['token', 'generate', '--ttl']);
    await fails(2, ['entry', 'update', '--id', 'x', '--x509-ttl', '-5'], /ambiguous/);
    const help = await parley('entry', 'create', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage:\n {2}parley entry create /);
    for (const command of ['token', 'entry', 'agent', 'bundle', 'x509', 'jwt', 'authority']) {
      assert.match(await ok(command, 'help'), new RegExp(`^Usage:[\\s\\S]*parley ${command} `));
    }
    assert.match(await ok('entry', 'help'), /--federates-with TD/);
  });

  it('no join token appears in the store, its files or the audit log; the audit chain verifies', async () => {
    assert.ok(tokens.length >= 3);
    const rows: unknown[] = [];
    const tables = await h.db.query<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table'",
    );
    for (const { name } of tables) rows.push(...(await h.db.query(`SELECT * FROM ${name}`)));
    const dump = JSON.stringify(rows, (_k, v: unknown) =>
      Buffer.isBuffer(v) ? v.toString('base64') : v,
    );
    for (const file of await readdir(h.dir)) {
      if (file.startsWith('store.db')) {
        const bytes = await readFile(join(h.dir, file));
        for (const t of tokens) assert.equal(bytes.includes(t), false, `token found in ${file}`);
      }
    }
    for (const t of tokens) assert.equal(dump.includes(t), false);
    const actions = (
      await h.db.query<{ action: string }>('SELECT action FROM audit_events ORDER BY seq')
    ).map((r) => r.action);
    for (const a of [
      'join-token.create',
      'entry.create',
      'entry.update',
      'entry.delete',
      'x509-svid.mint',
      'jwt-svid.mint',
      'authority.prepare',
      'authority.activate',
      'authority.taint',
      'authority.revoke',
    ])
      assert.ok(actions.includes(a), `no ${a} audit event`);
    assert.deepEqual(await verifyAuditChain(h.db), { ok: true, count: actions.length });
    assert.deepEqual(h.logged, [], 'no internal errors');
  });
});

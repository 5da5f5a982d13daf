import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DecisionRecord } from '@parley/authz';
import { type Clock, ParleyError, parseTrustDomain, systemClock } from '@parley/core';
import { Ca, MemoryAuthorityJournal, MemoryKeyManager, createAdminApi } from '@parley/identity';
import { type AuditDetailValue, type Database, appendAudit, openStore } from '@parley/store';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../command.js';
import { authzDecisionRoutes, parseDecisionsDto } from '../server/authz-decision-routes.js';
import { authzLog } from './authz-log.js';
import { commandGroup } from './command-group.js';

const T0 = Date.UTC(2026, 0, 5, 10, 0);
const FRONTEND = 'spiffe://example.org/frontend';
const BACKEND = 'spiffe://example.org/backend';

function decision(i: number, r: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    at: T0 + i * 60_000,
    requestId: `req-${i}`,
    enforcedBy: 'ext_authz',
    source: { principal: FRONTEND, address: '10.0.0.1' },
    destination: { service: 'backend', principal: BACKEND, port: 9090 },
    request: { method: 'GET', host: 'backend', path: `/api/items/${i}`, headers: {} },
    outcome: 'allow',
    policy: 'backend-allow',
    rule: 'frontend-api',
    why: 'ALLOW policy "backend-allow" rule "frontend-api" matches',
    ...r,
  };
}

/** `parley authz …` in-process, exit codes as runCli maps them (0, 1 failed, 2 usage). */
async function parley(socket: string, ...argv: string[]) {
  const group = commandGroup('authz', 'authorization', 'usage\n', { log: authzLog });
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: (t: string) => (stdout += t),
    stderr: (t: string) => (stderr += t),
    env: { PARLEY_ADMIN_SOCKET: socket },
  };
  let code: number;
  try {
    code = await group.run(argv, io);
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof ParleyError)) throw err;
    code = err instanceof UsageError ? 2 : 1;
    io.stderr(`parley: ${err.message}\n`);
  }
  return { code, stdout, stderr };
}

describe('parley authz log against a real admin API (SQLite)', () => {
  let dir: string;
  let db: Database;
  let server: Server;
  let socket: string;
  let now = T0 + 10 * 60_000;
  const clock: Clock = { now: () => now };

  const ok = async (...argv: string[]) => {
    const r = await parley(socket, 'log', ...argv);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    return r.stdout;
  };
  const fails = async (code: 1 | 2, argv: string[], message: RegExp) => {
    const r = await parley(socket, ...argv);
    assert.equal(r.code, code, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^parley: [^\n]+\n$/);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parley-authz-log-'));
    db = await openStore({ sqlite: { path: join(dir, 'store.db') } });
    const td = parseTrustDomain('example.org');
    const ca = await Ca.open(
      { trustDomain: td },
      {
        keyManager: new MemoryKeyManager(),
        journal: new MemoryAuthorityJournal(),
        clock: systemClock,
      },
    );
    socket = join(dir, 'admin.sock');
    server = createServer(
      createAdminApi({
        db,
        ca,
        trustDomain: td,
        clock,
        extraRoutes: authzDecisionRoutes({ db, clock }),
      }),
    );
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    const { policy: _p, rule: _r, ...unnamed } = decision(4);
    const records: DecisionRecord[] = [
      decision(1),
      decision(2, {
        outcome: 'deny',
        policy: 'backend-deny',
        rule: 'guests',
        why: 'DENY policy "backend-deny" rule "guests" matches',
        request: {
          method: 'DELETE',
          host: 'backend',
          path: '/admin',
          headers: { 'x-role': 'guest' },
        },
      }),
      decision(3, { dryRun: { outcome: 'deny', policy: 'lockdown', rule: 'all' } }),
      {
        ...unnamed,
        enforcedBy: 'rbac',
        outcome: 'deny',
        why: 'no ALLOW rule matches (or the mesh default denies)',
      },
      decision(5, {
        source: { address: '192.0.2.7' },
        request: { method: 'GET', host: 'backend', path: '/x\u001b[31mred', headers: {} },
        why: 'line\nbreak',
      }),
    ];
    await db.transaction(async (tx) => {
      for (const r of records) {
        await appendAudit(tx, {
          at: r.at,
          module: 'authz',
          action: 'decision',
          subject: r.requestId,
          detail: r as unknown as { readonly [key: string]: AuditDetailValue },
        });
      }
    });
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints a table of recent decisions, newest first, with policy/rule and why', async () => {
    const lines = (await ok()).trimEnd().split('\n');
    assert.match(
      lines[0] ?? '',
      /^TIME +REQUEST ID +OUTCOME +SOURCE +DESTINATION +METHOD +PATH +POLICY\/RULE +WHY$/,
    );
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(/ {2,}/).slice(0, 3)),
      [
        ['2026-01-05T10:05:00.000Z', 'req-5', 'allow'],
        ['2026-01-05T10:04:00.000Z', 'req-4', 'deny'],
        ['2026-01-05T10:03:00.000Z', 'req-3', 'allow (would deny)'],
        ['2026-01-05T10:02:00.000Z', 'req-2', 'deny'],
        ['2026-01-05T10:01:00.000Z', 'req-1', 'allow'],
      ],
    );
    const row = (id: string) => lines.find((l) => l.includes(` ${id} `)) ?? '';
    assert.match(
      row('req-2'),
      / spiffe:\/\/example\.org\/frontend +backend:9090 +DELETE +\/admin +backend-deny\/guests +DENY policy "backend-deny" rule "guests" matches$/,
    );
    assert.match(row('req-4'), / - +no ALLOW rule matches \(or the mesh default denies\)$/);
    // No escape sequence or line break of a recorded request reaches the terminal.
    assert.match(
      row('req-5'),
      / 192\.0\.2\.7 +backend:9090 +GET +\/x\?\[31mred +backend-allow\/frontend-api +line\?break$/,
    );
    assert.equal(lines.length, 6);
  });

  it('filters: --denied, --since, --limit, --request-id', async () => {
    const idsOf = (out: string) => [...out.matchAll(/ (req-\d+) /g)].map((m) => m[1]);
    assert.deepEqual(idsOf(await ok('--denied')), ['req-4', 'req-2']);
    now = T0 + 6 * 60_000;
    assert.deepEqual(idsOf(await ok('--since', '2m30s')), ['req-5', 'req-4']);
    assert.deepEqual(idsOf(await ok('--since', '150', '--denied')), ['req-4']);
    assert.deepEqual(idsOf(await ok('--limit', '2')), ['req-5', 'req-4']);
    assert.deepEqual(idsOf(await ok('--request-id', 'req-3')), ['req-3']);
    assert.equal(await ok('--request-id', 'req-404'), '(none)\n');
  });

  it('prints JSON and YAML that parse back to the recorded decisions', async () => {
    const json = JSON.parse(await ok('-o', 'json', '--request-id', 'req-2')) as unknown;
    const [d] = parseDecisionsDto(json);
    assert.equal(d?.request.method, 'DELETE');
    assert.deepEqual(d?.request.headers, { 'x-role': 'guest' });
    assert.equal(typeof d?.seq, 'number');
    const yaml = parseDecisionsDto(parseYaml(await ok('-o', 'yaml')));
    assert.deepEqual(
      yaml.map((x) => x.requestId),
      ['req-5', 'req-4', 'req-3', 'req-2', 'req-1'],
    );
    assert.deepEqual(yaml[2]?.dryRun, { outcome: 'deny', policy: 'lockdown', rule: 'all' });
  });

  it('refuses bad flags as usage errors, and reports an unreachable server', async () => {
    await fails(2, ['log', '--since', '5x'], /--since: invalid duration "5x"/);
    await fails(2, ['log', '--limit', '0'], /--limit must be an integer from 1 to 10000/);
    await fails(2, ['log', '--limit', '10001'], /--limit must be an integer from 1 to 10000/);
    await fails(2, ['log', '--request-id', ''], /--request-id must not be empty/);
    await fails(2, ['log', '-o', 'pem'], /-o must be one of table, json, yaml/);
    await fails(2, ['log', '--denied=yes'], /denied/);
    await fails(2, ['log', 'extra'], /unexpected argument "extra"/);
    await fails(1, ['log', '--socket', join(dir, 'nope.sock')], /no admin socket/);
  });
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { DecisionRecord } from '@parley/authz';
import { ParleyError, parseTrustDomain, systemClock } from '@parley/core';
import { Ca, MemoryAuthorityJournal, MemoryKeyManager, createAdminApi } from '@parley/identity';
import { type AuditDetailValue, type Database, appendAudit, openStore } from '@parley/store';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../command.js';
import { authzDecisionRoutes } from '../server/authz-decision-routes.js';
import { authzDiff } from './authz-diff.js';
import { commandGroup } from './command-group.js';

const run = promisify(execFile);
const T0 = Date.UTC(2026, 0, 5, 10, 0);
const FRONTEND = 'spiffe://example.org/frontend';
const BACKEND = 'spiffe://example.org/backend';
const OPS = 'spiffe://example.org/ops';

const services = (opsTeam: string) => `apiVersion: parley.dev/v1
kind: Service
metadata: { name: frontend }
spec:
  spiffeId: ${FRONTEND}
  ports: [{ name: http, port: 8080 }]
  attributes: { team: shop }
---
apiVersion: parley.dev/v1
kind: Service
metadata: { name: backend }
spec:
  spiffeId: ${BACKEND}
  ports: [{ name: http, port: 9090 }]
  attributes: { team: shop }
---
apiVersion: parley.dev/v1
kind: Service
metadata: { name: ops }
spec:
  spiffeId: ${OPS}
  ports: [{ name: http, port: 80 }]
  attributes: { team: ${opsTeam} }
`;

const allow = (methods: string) => `apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: mesh }
spec:
  defaultAction: DENY
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: backend-allow }
spec:
  selector: { services: [backend] }
  action: ALLOW
  rules:
    - name: frontend-api
      from: [{ principals: [${FRONTEND}] }]
      to: [{ methods: [${methods}], paths: [/api/*] }]
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: backend-team }
spec:
  selector: { services: [backend] }
  action: ALLOW
  rules:
    - name: shop-reads
      from: [{ principals: [${OPS}] }]
      when: [{ key: source.attributes.team, values: [shop] }]
`;

const LOCKDOWN = `---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: backend-deny }
spec:
  selector: { services: [backend] }
  action: DENY
  rules:
    - name: admin
      to: [{ paths: [/api/admin/*] }]
`;

const INVALID = `apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: broken }
spec:
  selector: { services: [nowhere] }
  action: ALLOW
  rules: []
`;

function decision(i: number, r: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    at: T0 + i * 60_000,
    requestId: `req-${i}`,
    enforcedBy: 'ext_authz',
    source: { principal: FRONTEND },
    destination: { service: 'backend', principal: BACKEND, port: 9090 },
    request: { method: 'GET', host: 'backend', path: '/api/items', headers: {} },
    outcome: 'allow',
    policy: 'backend-allow',
    rule: 'frontend-api',
    why: 'recorded',
    ...r,
  };
}

/** Decisions as config A made them (newest last). */
function recordedUnderA(): DecisionRecord[] {
  const {
    policy: _p,
    rule: _r,
    ...denied
  } = decision(0, { outcome: 'deny', why: 'no ALLOW rule matches' });
  return [
    decision(1),
    decision(2, {
      request: { method: 'GET', host: 'backend', path: '/api/admin/users', headers: {} },
    }),
    { ...denied, at: T0 + 3 * 60_000, requestId: 'req-3', source: { principal: OPS } },
    {
      ...denied,
      at: T0 + 4 * 60_000,
      requestId: 'req-4',
      request: { method: 'POST', host: 'backend', path: '/api/items', headers: {} },
    },
    { ...denied, at: T0 + 5 * 60_000, requestId: 'req-5', enforcedBy: 'jwt' },
    decision(6, { rule: 'frontend-old' }),
  ];
}

async function append(db: Database, records: readonly DecisionRecord[]): Promise<void> {
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
}

interface DiffJson {
  from: 'recorded' | { revision: string; commit: string };
  to: { revision: string; commit: string } | { dir: string };
  replayed: number;
  skipped: number;
  changes: {
    record: { requestId: string; seq: number };
    before: { outcome: string; policy?: string; rule?: string; why: string };
    after: { outcome: string; policy?: string; rule?: string; why: string };
  }[];
}

describe('parley authz diff against a real admin API (SQLite) and a Git config repo', () => {
  let dir: string;
  let repo: string;
  let db: Database;
  let server: Server;
  let socket: string;
  const commits: Record<string, string> = {};
  const env = () => ({ PARLEY_ADMIN_SOCKET: socket, PATH: process.env['PATH'] });

  async function parley(...argv: string[]) {
    const group = commandGroup('authz', 'authorization', 'usage\n', { diff: authzDiff });
    let stdout = '';
    let stderr = '';
    const io = {
      stdout: (t: string) => (stdout += t),
      stderr: (t: string) => (stderr += t),
      env: env(),
    };
    let code: number;
    try {
      code = await group.run(['diff', ...argv], io);
    } catch (err) {
      // As runCli maps them: usage errors exit 2, known failures 1.
      if (!(err instanceof UsageError) && !(err instanceof ParleyError)) throw err;
      code = err instanceof UsageError ? 2 : 1;
      io.stderr(`parley: ${err.message}\n`);
    }
    return { code, stdout, stderr };
  }
  const json = async (...argv: string[]): Promise<DiffJson> => {
    const r = await parley('--repo', repo, '-o', 'json', ...argv);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    return JSON.parse(r.stdout) as DiffJson;
  };
  const changed = (d: DiffJson) =>
    d.changes.map((c) => [
      c.record.requestId,
      `${c.before.outcome} ${c.before.policy ?? '-'}/${c.before.rule ?? '-'}`,
      `${c.after.outcome} ${c.after.policy ?? '-'}/${c.after.rule ?? '-'}`,
    ]);
  const fails = async (code: 1 | 2, argv: string[], message: RegExp) => {
    const r = await parley(...argv);
    assert.equal(r.code, code, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^parley: [^\n]+\n$/);
    assert.match(r.stderr, message);
    return r.stdout;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parley-authz-diff-'));
    repo = join(dir, 'config');
    await mkdir(join(repo, 'policies'), { recursive: true });
    const gitEnv = {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.org',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.org',
    };
    const git = (...args: string[]) => run('git', ['-C', repo, ...args], { env: gitEnv });
    const commit = async (name: string, files: Record<string, string>) => {
      for (const [path, text] of Object.entries(files)) await writeFile(join(repo, path), text);
      await git('add', '-A');
      await git('commit', '-q', '-m', name);
      commits[name] = (await git('rev-parse', 'HEAD')).stdout.trim();
      await git('tag', name);
    };
    await git('init', '-q');
    // A: the config the records were decided with. B: admin paths denied, ops moved to the
    // shop team. C: invalid. The working tree: B, and POST allowed too.
    await commit('a', {
      'services.yaml': services('ops'),
      'policies/authz.yaml': allow('GET'),
      'README.md': 'not config',
    });
    await commit('b', {
      'services.yaml': services('shop'),
      'policies/authz.yaml': allow('GET') + LOCKDOWN,
    });
    await commit('c', { 'policies/broken.yaml': INVALID });
    await git('rm', '-q', 'policies/broken.yaml');
    await writeFile(join(repo, 'policies/authz.yaml'), allow('GET, POST') + LOCKDOWN);

    db = await openStore({ sqlite: { path: join(dir, 'store.db') } });
    await append(db, recordedUnderA());
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
        clock: systemClock,
        extraRoutes: authzDecisionRoutes({ db, clock: systemClock }),
      }),
    );
    await new Promise<void>((resolve) => server.listen(socket, resolve));
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the calls whose decision changes between two revisions, Services from each', async () => {
    const d = await json('--from', 'a', '--to', 'b');
    assert.deepEqual(d.from, { revision: 'a', commit: commits['a'] });
    assert.deepEqual(d.to, { revision: 'b', commit: commits['b'] });
    assert.equal(d.replayed, 5);
    assert.equal(d.skipped, 1);
    assert.deepEqual(changed(d), [
      ['req-3', 'deny -/-', 'allow backend-team/shop-reads'],
      ['req-2', 'allow backend-allow/frontend-api', 'deny backend-deny/admin'],
    ]);
    assert.match(d.changes[1]?.after.why ?? '', /backend-deny/);
    assert.deepEqual((await json('--from', 'a', '--to', commits['a'] ?? '')).changes, []);
  });

  it('compares with what was recorded without --from', async () => {
    const d = await json('--to', 'b');
    assert.equal(d.from, 'recorded');
    assert.deepEqual(changed(d), [
      ['req-6', 'allow backend-allow/frontend-old', 'allow backend-allow/frontend-api'],
      ['req-3', 'deny -/-', 'allow backend-team/shop-reads'],
      ['req-2', 'allow backend-allow/frontend-api', 'deny backend-deny/admin'],
    ]);
    assert.deepEqual(changed(await json('--to', 'b', '--last', '3')), [
      ['req-6', 'allow backend-allow/frontend-old', 'allow backend-allow/frontend-api'],
    ]);
  });

  it("takes a working tree with --dir, and the repository's by default", async () => {
    const expected = [
      ['req-4', 'deny -/-', 'allow backend-allow/frontend-api'],
      ['req-3', 'deny -/-', 'allow backend-team/shop-reads'],
      ['req-2', 'allow backend-allow/frontend-api', 'deny backend-deny/admin'],
    ];
    const d = await json('--from', 'a', '--dir', repo);
    assert.deepEqual(d.to, { dir: repo });
    assert.deepEqual(changed(d), expected);
    assert.deepEqual(changed(await json('--from', 'a')), expected);
  });

  it('prints a table: the two sides, the counts, and each changed call', async () => {
    const r = await parley('--repo', repo, '--from', 'a', '--to', 'b');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 4), [
      'replayed 5 recorded decision(s), 1 skipped (decided before any policy)',
      `before: a (${commits['a']?.slice(0, 12)})`,
      `after:  b (${commits['b']?.slice(0, 12)})`,
      '2 change(s)',
    ]);
    assert.match(
      lines[4] ?? '',
      /^TIME +REQUEST ID +SOURCE +DESTINATION +METHOD +PATH +BEFORE +AFTER +WHY$/,
    );
    assert.match(
      lines[6] ?? '',
      /^2026-01-05T10:02:00\.000Z +req-2 +spiffe:\/\/example\.org\/frontend +backend:9090 +GET +\/api\/admin\/users +allow backend-allow\/frontend-api +deny backend-deny\/admin +DENY policy "backend-deny"/,
    );
    const same = await parley('--repo', repo, '--from', 'b', '--to', 'b', '-o', 'table');
    assert.match(same.stdout, /\nbefore: b .*\nafter: {2}b .*\n0 change\(s\)\n\(none\)\n$/);
    const yaml = parseYaml(
      (await parley('--repo', repo, '--to', 'b', '-o', 'yaml')).stdout,
    ) as DiffJson;
    assert.equal(yaml.changes.length, 3);
  });

  it("exits 1 with a revision's problems when its config is invalid", async () => {
    const out = await fails(
      1,
      ['--repo', repo, '--from', 'c', '--to', 'b'],
      new RegExp(
        `^parley: c \\(${commits['c']?.slice(0, 12)}\\): 1 problem\\(s\\) in its mesh config\\n$`,
      ),
    );
    assert.match(
      out,
      new RegExp(
        `^c \\(${commits['c']?.slice(0, 12)}\\): policies/broken\\.yaml:5: spec\\.selector`,
      ),
    );
    await fails(1, ['--repo', repo, '--to', 'c'], /c \(.*\): 1 problem/);
    await fails(1, ['--repo', repo, '--to', 'nope'], /"nope" is not a commit of the repository/);
    await fails(
      1,
      ['--repo', join(dir, 'missing'), '--to', 'a'],
      /missing is not a Git repository: .*cannot change to/,
    );
  });

  it('refuses bad flags as usage errors', async () => {
    await fails(2, ['--to', 'a', '--dir', repo], /--to REV or --dir DIR, not both/);
    await fails(2, ['--from=--upload-pack=x'], /--from must name a revision/);
    await fails(2, ['--to', 'a\nb'], /--to must name a revision/);
    await fails(2, ['--last', '0'], /--last must be an integer from 1 to 10000/);
    await fails(2, ['--repo', ''], /--repo and --dir must name a directory/);
    await fails(2, ['-o', 'pem'], /-o must be one of table, json, yaml/);
  });

  it('fetches the last N decisions a page at a time', async () => {
    await append(
      db,
      Array.from({ length: 1200 }, (_, i) => decision(100 + i, { requestId: `bulk-${i}` })),
    );
    const d = await json('--to', 'b', '--last', '1203');
    assert.equal(d.replayed + d.skipped, 1203);
    assert.deepEqual(
      changed(d).map(([id]) => id),
      ['req-6'],
    );
    assert.equal((await json('--to', 'b', '--last', '1000')).replayed, 1000);
  });
});

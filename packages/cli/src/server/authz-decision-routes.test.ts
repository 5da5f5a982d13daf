import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DecisionRecord } from '@parley/authz';
import { type Clock, isParleyError, parseTrustDomain, systemClock } from '@parley/core';
import { Ca, MemoryAuthorityJournal, MemoryKeyManager, createAdminApi } from '@parley/identity';
import { type AuditDetailValue, type Database, appendAudit, openStore } from '@parley/store';
import { type AdminClient, type AdminQuery, adminClient } from '../admin-client.js';
import {
  type LoggedDecision,
  authzDecisionRoutes,
  parseDecisionRecord,
  parseDecisionsDto,
} from './authz-decision-routes.js';

const T0 = 1_767_600_000_000;
const FRONTEND = 'spiffe://example.org/frontend';
const BACKEND = 'spiffe://example.org/backend';

function decision(i: number, r: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    at: T0 + i * 60_000,
    requestId: `req-${i}`,
    version: 'c0ffee',
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

/** A deny by RBAC's default: no policy or rule named. */
function denial(i: number): DecisionRecord {
  const { policy: _policy, rule: _rule, ...rest } = decision(i);
  return { ...rest, outcome: 'deny', enforcedBy: 'rbac', why: 'no ALLOW rule matches' };
}

/** Appends records as the server's DecisionWriter does. */
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

describe('GET /v1/authz/decisions on the admin API (SQLite)', () => {
  let dir: string;
  let db: Database;
  let server: Server;
  let client: AdminClient;
  let now = T0;
  const clock: Clock = { now: () => now };
  const stored: DecisionRecord[] = [];
  const logged: unknown[] = [];

  const get = async (query: AdminQuery = {}) =>
    parseDecisionsDto(await client.get<unknown>('/v1/authz/decisions', query));
  const ids = (ds: readonly LoggedDecision[]) => ds.map((d) => d.requestId);
  const refused = (query: AdminQuery, message: RegExp) =>
    assert.rejects(client.get('/v1/authz/decisions', query), (err: unknown) => {
      assert.ok(isParleyError(err, 'invalid-argument'), String(err));
      assert.match(err.message, message);
      return true;
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parley-decisions-'));
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
    const socket = join(dir, 'admin.sock');
    server = createServer(
      createAdminApi({
        db,
        ca,
        trustDomain: td,
        clock,
        log: (_m, cause) => logged.push(cause),
        extraRoutes: authzDecisionRoutes({ db, clock }),
      }),
    );
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    client = adminClient(socket, 5000);
    // 1…12: every 4th a deny; 3, 7, 11 allowed with a dry-run "would deny"; 6 an allow whose
    // claims hold the deny text; identity events in between must never show.
    for (let i = 1; i <= 12; i++) {
      const r =
        i % 4 === 0
          ? denial(i)
          : i % 4 === 3
            ? decision(i, { dryRun: { outcome: 'deny', policy: 'lockdown', rule: 'all' } })
            : i === 6
              ? decision(i, {
                  request: {
                    method: 'POST',
                    host: 'backend',
                    path: '/api/x?y=1',
                    headers: { 'x-role': ['a', 'b'] },
                    claims: { outcome: 'deny', nested: { list: [1, 'two'] } },
                  },
                })
              : decision(i);
      const clean = JSON.parse(JSON.stringify(r)) as DecisionRecord;
      stored.push(clean);
      await append(db, [clean]);
      await db.transaction((tx) =>
        appendAudit(tx, {
          at: r.at,
          module: 'identity',
          action: 'svid.mint',
          subject: `req-${i}`,
          detail: { outcome: 'deny' },
        }),
      );
    }
    now = T0 + 12 * 60_000;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('returns decisions newest first, as recorded, each with its audit chain seq', async () => {
    const all = await get();
    assert.deepEqual(ids(all), stored.map((r) => r.requestId).reverse());
    all.forEach((d, i) => {
      const { seq, ...record } = d;
      assert.deepEqual(record, stored[stored.length - 1 - i]);
      assert.equal(seq, 2 * (stored.length - i) - 1, 'decisions and identity events alternate');
    });
    assert.deepEqual(logged, []);
  });

  it('keeps denials only with denied=true, past dry-run and claim lookalikes', async () => {
    assert.deepEqual(ids(await get({ denied: 'true' })), ['req-12', 'req-8', 'req-4']);
    // Lookalikes between denials make the store read more than one page per answer.
    assert.deepEqual(ids(await get({ denied: 'true', limit: '2' })), ['req-12', 'req-8']);
    assert.deepEqual(ids(await get({ denied: 'true', limit: '1', before: '15' })), ['req-4']);
    assert.equal((await get({ denied: 'false' })).length, 12);
  });

  it('filters by time (since) and request id, and pages with limit and before', async () => {
    assert.deepEqual(ids(await get({ since: '2m' })), ['req-12', 'req-11', 'req-10']);
    assert.deepEqual(ids(await get({ since: '90s', denied: 'true' })), ['req-12']);
    assert.deepEqual(ids(await get({ since: '1000d' })).length, 12);
    assert.deepEqual(ids(await get({ requestId: 'req-6' })), ['req-6']);
    assert.deepEqual(ids(await get({ requestId: 'req-6', denied: 'true' })), []);
    assert.deepEqual(ids(await get({ requestId: 'req-3', since: '1m' })), []);
    assert.deepEqual(ids(await get({ requestId: 'nope' })), []);
    const first = await get({ limit: '5' });
    assert.deepEqual(ids(first), ['req-12', 'req-11', 'req-10', 'req-9', 'req-8']);
    const next = await get({ limit: '5', before: String(first.at(-1)?.seq) });
    assert.deepEqual(ids(next), ['req-7', 'req-6', 'req-5', 'req-4', 'req-3']);
    assert.equal((await get({ limit: '10000' })).length, 12);
  });

  it('parses its query strictly', async () => {
    await refused({ denied: 'yes' }, /denied must be true or false/);
    await refused({ since: '5x' }, /since: invalid duration "5x"/);
    await refused({ since: '' }, /since: invalid duration/);
    await refused({ limit: '0' }, /limit must be an integer between 1 and 10000/);
    await refused({ limit: '10001' }, /limit must be an integer between 1 and 10000/);
    await refused({ limit: '1e3' }, /limit must be an integer/);
    await refused({ limit: '-1' }, /limit must be an integer/);
    await refused({ before: '0' }, /before must be an integer between 1/);
    await refused({ requestId: '' }, /requestId must be 1 to 1024 characters/);
    await refused({ requestId: 'a\nb' }, /requestId must be 1 to 1024 characters/);
    await refused({ requestId: 'x'.repeat(1025) }, /requestId must be 1 to 1024 characters/);
    await refused({ deny: 'true' }, /unknown query parameter "deny"/);
    await refused({ limit: ['1', '2'] }, /"limit" is given more than once/);
  });
});

describe('GET /v1/authz/decisions over a corrupt record', () => {
  it('fails naming the audit event, rather than hiding it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-decisions-bad-'));
    const db = await openStore({ sqlite: { path: join(dir, 'store.db') } });
    try {
      await append(db, [decision(1)]);
      await db.transaction((tx) =>
        appendAudit(tx, {
          at: T0,
          module: 'authz',
          action: 'decision',
          subject: 'req-2',
          detail: { requestId: 'req-2', at: T0 },
        }),
      );
      const [route] = authzDecisionRoutes({ db, clock: systemClock });
      assert.ok(route !== undefined);
      await assert.rejects(
        route.handle({ params: {}, query: new Map(), body: undefined }),
        (err: unknown) => {
          assert.ok(isParleyError(err, 'failed-precondition'), String(err));
          assert.match(
            err.message,
            /^audit event 2 is not a valid decision record: record\.source: /,
          );
          return true;
        },
      );
      const one = await route.handle({
        params: {},
        query: new Map([['requestId', ['req-1']]]),
        body: undefined,
      });
      assert.equal(parseDecisionsDto(one.body).length, 1);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('GET /v1/authz/decisions?denied=true under many lookalikes', () => {
  it('reads on, round after round, to the denials behind them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-decisions-many-'));
    const db = await openStore({ sqlite: { path: join(dir, 'store.db') } });
    try {
      const wouldDeny = (i: number) => decision(i, { dryRun: { outcome: 'deny' } });
      await append(db, [denial(1), ...Array.from({ length: 600 }, (_, i) => wouldDeny(i + 2))]);
      const [route] = authzDecisionRoutes({ db, clock: systemClock });
      assert.ok(route !== undefined);
      const out = await route.handle({
        params: {},
        query: new Map([
          ['denied', ['true']],
          ['limit', ['1']],
        ]),
        body: undefined,
      });
      assert.deepEqual(
        parseDecisionsDto(out.body).map((d) => [d.seq, d.requestId]),
        [[1, 'req-1']],
      );
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('parseDecisionRecord and parseDecisionsDto', () => {
  it('keeps every field of a record and drops fields it does not know', () => {
    const r = decision(1, {
      dryRun: { outcome: 'deny' },
      request: {
        method: 'GET',
        host: 'h',
        path: '/',
        headers: { a: 'x', b: ['y', 'z'] },
        claims: { sub: 'alice' },
      },
    });
    assert.deepEqual(parseDecisionRecord(JSON.parse(JSON.stringify(r))), r);
    const extra = { ...r, future: 1, source: { ...r.source, port: 5 } };
    assert.deepEqual(parseDecisionRecord(extra), r);
    const minimal = {
      at: 0,
      requestId: 'r',
      enforcedBy: 'envoy',
      source: {},
      destination: { principal: BACKEND, port: 0 },
      request: { method: 'GET', host: 'h', path: '//x', headers: {} },
      outcome: 'deny',
      why: 'refused',
    };
    assert.deepEqual(parseDecisionRecord(minimal), minimal);
  });

  it('refuses a malformed record, naming the field', () => {
    const r = decision(1) as unknown as Record<string, unknown>;
    const bad: [unknown, RegExp][] = [
      [null, /^decision: expected an object/],
      [[], /^decision: expected an object/],
      [{ ...r, at: -1 }, /^decision\.at: expected an integer/],
      [{ ...r, at: '1' }, /^decision\.at: expected an integer/],
      [{ ...r, requestId: '' }, /^decision\.requestId: must not be empty/],
      [
        { ...r, enforcedBy: 'opa' },
        /^decision\.enforcedBy: must be one of rbac, ext_authz, jwt, envoy/,
      ],
      [{ ...r, outcome: 'maybe' }, /^decision\.outcome: must be one of allow, deny/],
      [{ ...r, source: 'x' }, /^decision\.source: expected an object/],
      [{ ...r, destination: { principal: BACKEND, port: 70000 } }, /destination\.port/],
      [
        { ...r, request: { method: 'GET', host: 'h', path: '/', headers: { a: 1 } } },
        /request\.headers\.a: expected a string or a list/,
      ],
      [
        { ...r, request: { method: 'GET', host: 'h', path: '/', headers: {}, claims: [] } },
        /request\.claims: expected an object/,
      ],
      [{ ...r, dryRun: { outcome: 'x' } }, /dryRun\.outcome/],
      [{ ...r, why: undefined }, /^decision\.why: expected a string/],
    ];
    for (const [value, message] of bad) {
      assert.throws(
        () => parseDecisionRecord(value),
        (err: unknown) => isParleyError(err, 'invalid-argument') && message.test(err.message),
        String(message),
      );
    }
    assert.throws(() => parseDecisionsDto({}), /response\.decisions: expected a list/);
    assert.throws(() => parseDecisionsDto({ decisions: [r] }), /response\.decisions\[0\]\.seq/);
    assert.deepEqual(parseDecisionsDto({ decisions: [] }), []);
  });
});

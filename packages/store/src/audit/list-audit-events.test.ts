import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDatabase, makeTempDir, startPostgres } from '@parley/testing';
import type { Database, Queryable, SqlValue } from '../database.js';
import { openStore } from '../open-store.js';
import type { StoreConfig } from '../store-config.js';
import { appendAudit } from './append-audit.js';
import { hashAuditEvent } from './audit-event.js';
import { type AuditEventQuery, listAuditEvents } from './list-audit-events.js';
import { verifyAuditChain } from './verify-audit-chain.js';

interface EngineFixture {
  freshConfig(): Promise<StoreConfig>;
  close(): Promise<void>;
}

const T0 = 1_700_000_000_000;

/** 30 events: 20 authz decisions (every third a deny) interleaved with 10 identity mints. */
async function seed(db: Database): Promise<void> {
  await db.transaction(async (tx) => {
    for (let i = 1; i <= 30; i++) {
      const authz = i % 3 !== 0;
      await appendAudit(tx, {
        at: T0 + i * 1000,
        module: authz ? 'authz' : 'identity',
        action: authz ? 'decision' : 'svid.mint',
        subject: authz ? `req-${i}` : `spiffe://example.org/w${i % 2}`,
        detail: authz
          ? { outcome: i % 4 === 1 ? 'deny' : 'allow', note: i === 2 ? '100%_sure' : '' }
          : { serial: `0${i}` },
      });
    }
  });
}

const seqs = (events: readonly { seq: number }[]) => events.map((e) => e.seq);

function describeListAuditEvents(name: string, setUp: () => Promise<EngineFixture>): void {
  void describe(`listAuditEvents on ${name}`, () => {
    let fixture: EngineFixture;
    let db: Database;
    const list = (q: Partial<AuditEventQuery>) => listAuditEvents(db, { limit: 100, ...q });

    before(async () => {
      fixture = await setUp();
      db = await openStore(await fixture.freshConfig());
      await seed(db);
    });
    after(async () => {
      await db?.close();
      await fixture?.close();
    });

    void it('returns events as stored, in seq order, each verifying against its hash', async () => {
      const all = await list({});
      assert.deepEqual(
        seqs(all),
        Array.from({ length: 30 }, (_, i) => i + 1),
      );
      for (const e of all) {
        assert.ok(Object.isFrozen(e));
        assert.equal(typeof e.seq, 'number');
        assert.equal(typeof e.at, 'number');
        assert.equal(hashAuditEvent(e), e.hash);
      }
      assert.equal(all[1]?.detail, '{"outcome":"allow","note":"100%_sure"}');
      assert.deepEqual(seqs(await list({ order: 'desc', limit: 3 })), [30, 29, 28]);
      assert.deepEqual(await verifyAuditChain(db), { ok: true, count: 30 });
    });

    void it('filters by module, action, subject and time', async () => {
      const decisions = await list({ module: 'authz', action: 'decision' });
      assert.equal(decisions.length, 20);
      assert.ok(decisions.every((e) => e.module === 'authz' && e.action === 'decision'));
      assert.deepEqual(
        seqs(await list({ module: 'identity' })),
        [3, 6, 9, 12, 15, 18, 21, 24, 27, 30],
      );
      assert.deepEqual(
        seqs(await list({ action: 'svid.mint', subject: 'spiffe://example.org/w1' })),
        [3, 9, 15, 21, 27],
      );
      assert.deepEqual(
        seqs(await list({ module: 'authz', action: 'decision', subject: 'req-7' })),
        [7],
      );
      assert.deepEqual(seqs(await list({ module: 'authz', subject: 'req-3' })), []);
      assert.deepEqual(
        seqs(await list({ module: 'authz', action: 'decision', sinceMs: T0 + 26_000 })),
        [26, 28, 29],
      );
      assert.deepEqual(
        seqs(await list({ module: 'authz', action: 'decision', subject: 'req-26', sinceMs: T0 })),
        [26],
      );
      assert.deepEqual(
        seqs(
          await list({ module: 'authz', action: 'decision', subject: 'req-2', sinceMs: T0 + 3000 }),
        ),
        [],
      );
      assert.deepEqual(seqs(await list({ module: 'nope' })), []);
    });

    void it('matches a detail substring exactly and case-sensitively (no LIKE wildcards)', async () => {
      const denies = await list({ module: 'authz', detailContains: '"outcome":"deny"' });
      assert.deepEqual(seqs(denies), [1, 5, 13, 17, 25, 29]);
      assert.deepEqual(seqs(await list({ detailContains: '"OUTCOME"' })), []);
      assert.deepEqual(seqs(await list({ detailContains: '100%_sure' })), [2]);
      assert.deepEqual(seqs(await list({ detailContains: '1_0' })), []);
      assert.deepEqual(seqs(await list({ detailContains: '%' })), [2]);
    });

    void it('pages by seq cursor in both directions, every event exactly once', async () => {
      const walk = async (order: 'asc' | 'desc') => {
        const out: number[] = [];
        let cursor: number | undefined;
        for (let pages = 0; pages < 20; pages++) {
          const page = await list({
            module: 'authz',
            action: 'decision',
            order,
            limit: 3,
            ...(cursor !== undefined &&
              (order === 'asc' ? { afterSeq: cursor } : { beforeSeq: cursor })),
          });
          out.push(...seqs(page));
          if (page.length < 3) return out;
          cursor = page.at(-1)?.seq;
        }
        assert.fail('paging did not end');
      };
      const asc = await walk('asc');
      assert.equal(asc.length, 20);
      assert.deepEqual(await walk('desc'), [...asc].reverse());
      assert.deepEqual(seqs(await list({ afterSeq: 10, beforeSeq: 14 })), [11, 12, 13]);
    });

    void it('refuses malformed queries as programmer errors', async () => {
      await assert.rejects(list({ limit: 0 }), RangeError);
      await assert.rejects(list({ limit: 10_001 }), RangeError);
      await assert.rejects(list({ limit: 1.5 }), RangeError);
      await assert.rejects(list({ sinceMs: -1 }), RangeError);
      await assert.rejects(list({ afterSeq: Number.NaN }), RangeError);
      await assert.rejects(list({ module: '' }), TypeError);
      await assert.rejects(list({ subject: 'a\0b' }), TypeError);
      await assert.rejects(list({ detailContains: '' }), TypeError);
      await assert.rejects(list({ order: 'up' as 'asc' }), TypeError);
      assert.equal((await list({ limit: 10_000 })).length, 30);
    });
  });
}

describeListAuditEvents('SQLite', async () => {
  const dir = await makeTempDir('parley-list-audit-');
  let n = 0;
  return {
    freshConfig: () => Promise.resolve({ sqlite: { path: join(dir.path, `store-${++n}.db`) } }),
    close: () => dir.remove(),
  };
});

describeListAuditEvents('PostgreSQL', async () => {
  const server = await startPostgres();
  let n = 0;
  return {
    freshConfig: async () => ({ postgres: { url: await createDatabase(server, `audit_${++n}`) } }),
    close: () => server.stop(),
  };
});

void describe('listAuditEvents on SQLite, query plans', () => {
  /** Records the statements run through it, for EXPLAIN. */
  function recording(db: Database): Queryable & { last?: [string, readonly SqlValue[]] } {
    const r: Queryable & { last?: [string, readonly SqlValue[]] } = {
      engine: db.engine,
      query: (sql, params = []) => {
        r.last = [sql, params];
        return db.query(sql, params);
      },
      execute: (sql, params) => db.execute(sql, params),
    };
    return r;
  }

  void it('reads decisions through the module/action indexes, never by scanning the chain', async () => {
    await using dir = await makeTempDir('parley-list-audit-plan-');
    await using db = await openStore({ sqlite: { path: join(dir.path, 'store.db') } });
    await seed(db);
    const r = recording(db);
    const base = { module: 'authz', action: 'decision', limit: 50 } as const;
    const cases: [AuditEventQuery, RegExp][] = [
      [{ ...base, order: 'desc' }, /INDEX audit_events_module_action_seq/],
      [{ ...base, order: 'desc', beforeSeq: 20 }, /INDEX audit_events_module_action_seq/],
      [{ ...base, afterSeq: 20 }, /INDEX audit_events_module_action_seq/],
      [{ ...base, order: 'desc', sinceMs: T0 }, /INDEX audit_events_module_action_(at|seq)/],
      [{ ...base, subject: 'req-7', sinceMs: T0 }, /INDEX audit_events_module_action_subject/],
      [{ ...base, order: 'desc', subject: 'req-7' }, /INDEX audit_events_module_action_subject/],
    ];
    for (const [query, index] of cases) {
      await listAuditEvents(r, query);
      const [sql, params] = r.last ?? assert.fail('no statement');
      const plan = (await db.query<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, params))
        .map((row) => row.detail)
        .join(' | ');
      assert.match(plan, index, `${JSON.stringify(query)}: ${plan}`);
      assert.doesNotMatch(plan, /SCAN audit_events/, `${JSON.stringify(query)}: ${plan}`);
    }
  });
});

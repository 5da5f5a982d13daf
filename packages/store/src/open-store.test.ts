import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isParleyError } from '@parley/core';
import { createDatabase, makeTempDir, startPostgres } from '@parley/testing';
import { appendAudit } from './audit/append-audit.js';
import { hashAuditEvent } from './audit/audit-event.js';
import { verifyAuditChain } from './audit/verify-audit-chain.js';
import type { Database, Engine, Transaction } from './database.js';
import { acquireLease } from './lease/acquire-lease.js';
import { releaseLease } from './lease/release-lease.js';
import { DIALECTS } from './migrate/dialect.js';
import { migrate } from './migrate/migrate.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrate/migrations.js';
import { openStore } from './open-store.js';
import type { StoreConfig } from './store-config.js';

/** What the engine-independent suite needs from an engine. */
interface EngineFixture {
  readonly engine: Engine;
  /** The config of a fresh, empty database. */
  freshConfig(): Promise<StoreConfig>;
  /** Lets a test alter audit rows, as someone with direct access to the database could. */
  disableAppendOnly(db: Database): Promise<void>;
  close(): Promise<void>;
}

const rejectsWith = (code: string, pattern?: RegExp) => (error: unknown) =>
  isParleyError(error) &&
  error.code === code &&
  (pattern === undefined || pattern.test(error.message));

function event(i: number) {
  return {
    at: 1_700_000_000_000 + i,
    module: 'test',
    action: 'write',
    subject: `s${i}`,
    detail: { i },
  };
}

/** The store's tests, written once and run against every engine. */
function describeStore(name: string, setUp: () => Promise<EngineFixture>): void {
  void describe(`store on ${name}`, () => {
    let fixture: EngineFixture;
    const open = async () => openStore(await fixture.freshConfig());

    before(async () => {
      fixture = await setUp();
    });
    after(async () => {
      await fixture?.close();
    });

    void it('applies every migration once, and reopening changes nothing', async () => {
      const config = await fixture.freshConfig();
      const first = await openStore(config);
      const applied = await first.query<{ id: number; name: string; applied_at: number }>(
        'SELECT id, name, applied_at FROM schema_migrations ORDER BY id',
      );
      await first.close();
      assert.deepEqual(
        applied.map((m) => [m.id, m.name]),
        MIGRATIONS.map((m) => [m.id, m.name]),
      );
      assert.equal(applied.at(-1)?.id, SCHEMA_VERSION);
      assert.ok(applied.every((m) => Number.isSafeInteger(m.applied_at) && m.applied_at > 0));

      await using again = await openStore(config);
      const reapplied = await again.query(
        'SELECT id, name, applied_at FROM schema_migrations ORDER BY id',
      );
      assert.deepEqual(reapplied, applied);
      assert.equal(await migrate(again), SCHEMA_VERSION);
    });

    void it('migrates once when two replicas open a fresh database at the same time', async () => {
      const config = await fixture.freshConfig();
      const [a, b] = await Promise.all([openStore(config), openStore(config)]);
      try {
        const rows = await a.query<{ n: number }>('SELECT COUNT(*) AS n FROM schema_migrations');
        assert.equal(rows[0]?.n, MIGRATIONS.length);
      } finally {
        await a.close();
        await b.close();
      }
    });

    void it('refuses a database whose schema is newer than this build', async () => {
      const config = await fixture.freshConfig();
      const db = await openStore(config);
      await db.execute('INSERT INTO schema_migrations (id, name, applied_at) VALUES ($1, $2, $3)', [
        SCHEMA_VERSION + 1,
        'from-the-future',
        0,
      ]);
      await db.close();
      await assert.rejects(
        openStore(config),
        rejectsWith('failed-precondition', /schema version \d+ is newer than this build/),
      );
    });

    void it('applies each migration in its own transaction', async () => {
      await using db = await open();
      const d = DIALECTS[db.engine];
      const broken = [
        ...MIGRATIONS,
        {
          id: SCHEMA_VERSION + 1,
          name: 'broken',
          up: () => [`CREATE TABLE half_done (a ${d.text})`, 'NOT VALID SQL'],
        },
      ];
      await assert.rejects(migrate(db, broken), /migration \d+ \(broken\) failed/);
      const tables = await db.query('SELECT id FROM schema_migrations WHERE name = $1', ['broken']);
      assert.deepEqual(tables, []);
      await assert.rejects(db.query('SELECT a FROM half_done'));
    });

    void it('binds $n placeholders the same way on every engine', async () => {
      await using db = await open();
      const d = DIALECTS[db.engine];
      await db.execute(
        `CREATE TABLE t_values (id ${d.bigint} PRIMARY KEY, label ${d.text}, data ${d.blob})${d.tableOptions}`,
      );
      const big = 2 ** 50 + 1;
      assert.equal(
        await db.execute('INSERT INTO t_values (id, label, data) VALUES ($1, $2, $3)', [
          big,
          'x',
          new Uint8Array([0, 1, 255]),
        ]),
        1,
      );
      assert.equal(
        await db.execute('INSERT INTO t_values (id, label, data) VALUES ($1, $2, $3)', [
          2n,
          null,
          null,
        ]),
        1,
      );
      const rows = await db.query<{ id: number; label: string | null; data: Buffer | null }>(
        'SELECT id, label, data FROM t_values WHERE id = $1 OR id = $2 OR label = $3 ORDER BY id',
        [big, 2, "it's not $1"],
      );
      assert.deepEqual(rows, [
        { id: 2, label: null, data: null },
        { id: big, label: 'x', data: Buffer.from([0, 1, 255]) },
      ]);
      assert.equal(
        await db.execute('UPDATE t_values SET label = $1 WHERE label IS NULL', ['y']),
        1,
      );
      await assert.rejects(
        db.execute('INSERT INTO t_values (id) VALUES ($1)', [2]),
        rejectsWith('already-exists', /statement failed/),
      );
    });

    void it('commits a transaction that resolves and rolls back one that throws', async () => {
      await using db = await open();
      const committed = await db.transaction(async (tx) => {
        await acquireLease(tx, 'a', 'h', 1000, 0);
        return 'done';
      });
      assert.equal(committed, 'done');

      const boom = new Error('boom');
      await assert.rejects(
        db.transaction(async (tx) => {
          await acquireLease(tx, 'b', 'h', 1000, 0);
          await appendAudit(tx, event(1));
          throw boom;
        }),
        (error) => error === boom,
      );
      const leases = await db.query<{ name: string }>('SELECT name FROM leases ORDER BY name');
      assert.deepEqual(
        leases.map((l) => l.name),
        ['a'],
      );
      assert.deepEqual(await verifyAuditChain(db), { ok: true, count: 0 });
    });

    void it('rejects the database itself, and a stale tx, inside or after a transaction', async () => {
      await using db = await open();
      let stale: Transaction | undefined;
      await db.transaction(async (tx) => {
        stale = tx;
        await assert.rejects(db.query('SELECT 1 AS one'), TypeError);
        await assert.rejects(
          db.transaction(async () => {}),
          TypeError,
        );
      });
      assert.ok(stale !== undefined);
      await assert.rejects(stale.query('SELECT 1 AS one'), rejectsWith('failed-precondition'));
      await db.close();
      await assert.rejects(db.query('SELECT 1 AS one'), rejectsWith('failed-precondition'));
    });

    void it('appends linked audit events and verifies the chain', async () => {
      await using db = await open();
      assert.deepEqual(await verifyAuditChain(db), { ok: true, count: 0 });
      const first = await db.transaction((tx) => appendAudit(tx, event(1)));
      const second = await db.transaction((tx) => appendAudit(tx, event(2)));
      assert.equal(first.seq, 1);
      assert.equal(first.prevHash, '0'.repeat(64));
      assert.equal(second.seq, 2);
      assert.equal(second.prevHash, first.hash);
      assert.equal(second.detail, '{"i":2}');
      assert.match(second.hash, /^[0-9a-f]{64}$/);
      const stored = await db.query(
        'SELECT seq, at, subject, detail, prev_hash, hash FROM audit_events',
      );
      assert.deepEqual(stored.at(-1), {
        seq: 2,
        at: second.at,
        subject: 's2',
        detail: '{"i":2}',
        prev_hash: first.hash,
        hash: second.hash,
      });
      assert.deepEqual(await verifyAuditChain(db), { ok: true, count: 2 });
      await assert.rejects(
        db.execute('UPDATE audit_events SET subject = $1 WHERE seq = 1', ['forged']),
        rejectsWith('failed-precondition', /append-only/),
      );
      await assert.rejects(
        db.execute('DELETE FROM audit_events WHERE seq = 1'),
        rejectsWith('failed-precondition', /append-only/),
      );
    });

    void it('reports the first tampered audit event', async () => {
      await using db = await open();
      for (let i = 1; i <= 5; i++) await db.transaction((tx) => appendAudit(tx, event(i)));
      await fixture.disableAppendOnly(db);

      await db.execute('UPDATE audit_events SET detail = $1 WHERE seq = 3', ['{"i":30}']);
      const altered = await verifyAuditChain(db);
      assert.equal(altered.ok, false);
      assert.equal(!altered.ok && altered.seq, 3);

      // Re-hashing the altered event moves the break to the link that names its old hash.
      const [row] = await db.query<{ prev_hash: string }>(
        'SELECT prev_hash FROM audit_events WHERE seq = 3',
      );
      const rehashed = hashAuditEvent({
        ...event(3),
        seq: 3,
        detail: '{"i":30}',
        prevHash: row?.prev_hash ?? '',
      });
      await db.execute('UPDATE audit_events SET hash = $1 WHERE seq = 3', [rehashed]);
      const relinked = await verifyAuditChain(db);
      assert.deepEqual(relinked.ok === false && [relinked.seq, relinked.reason], [
        4,
        'prev_hash is not the hash of the event before',
      ]);

      await db.execute('DELETE FROM audit_events WHERE seq = 2');
      const removed = await verifyAuditChain(db);
      assert.deepEqual(removed.ok === false && removed.seq, 2);
    });

    void it('keeps one chain when two replicas append 50 events concurrently', async () => {
      const config = await fixture.freshConfig();
      await using a = await openStore(config);
      await using b = await openStore(config);
      const events = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          (i % 2 === 0 ? a : b).transaction((tx) => appendAudit(tx, event(i))),
        ),
      );
      assert.deepEqual(
        events.map((e) => e.seq).sort((x, y) => x - y),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      assert.deepEqual(await verifyAuditChain(a), { ok: true, count: 50 });
    });

    void it('grants a lease to one holder until it expires or is released', async () => {
      await using db = await open();
      assert.equal(await acquireLease(db, 'rotate-ca', 'r1', 100, 1000), true);
      assert.equal(await acquireLease(db, 'rotate-ca', 'r2', 100, 1050), false);
      assert.equal(await acquireLease(db, 'rotate-ca', 'r1', 100, 1050), true, 'renewal');
      assert.equal(await acquireLease(db, 'rotate-ca', 'r2', 100, 1149), false);
      assert.equal(await acquireLease(db, 'rotate-ca', 'r2', 100, 1150), true, 'after expiry');
      assert.equal(await acquireLease(db, 'prune', 'r1', 100, 1150), true, 'another lease');
      assert.equal(await releaseLease(db, 'rotate-ca', 'r1'), false, 'not the holder');
      assert.equal(await releaseLease(db, 'rotate-ca', 'r2'), true);
      assert.equal(await acquireLease(db, 'rotate-ca', 'r1', 100, 1151), true, 'after release');
      await assert.rejects(acquireLease(db, 'x', 'r1', 0, 1000), RangeError);
    });

    void it('grants a contended lease to exactly one replica', async () => {
      const config = await fixture.freshConfig();
      await using a = await openStore(config);
      await using b = await openStore(config);
      const won = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          acquireLease(i % 2 ? a : b, 'once', `r${i}`, 1000, 5000),
        ),
      );
      assert.equal(won.filter(Boolean).length, 1);
    });
  });
}

describeStore('SQLite', async () => {
  const dir = await makeTempDir('parley-store-');
  let n = 0;
  return {
    engine: 'sqlite',
    freshConfig: async () => ({ sqlite: { path: join(dir.path, `store-${++n}.db`) } }),
    disableAppendOnly: async (db) => {
      await db.execute('DROP TRIGGER audit_events_no_update');
      await db.execute('DROP TRIGGER audit_events_no_delete');
    },
    close: () => dir.remove(),
  };
});

describeStore('PostgreSQL', async () => {
  const server = await startPostgres();
  let n = 0;
  return {
    engine: 'postgres',
    freshConfig: async () => ({ postgres: { url: await createDatabase(server, `store_${++n}`) } }),
    disableAppendOnly: async (db) => {
      await db.execute('ALTER TABLE audit_events DISABLE TRIGGER USER');
    },
    close: () => server.stop(),
  };
});

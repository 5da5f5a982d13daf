import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isParleyError } from '@parley/core';
import { makeTempDir, startPostgres } from '@parley/testing';
import pg from 'pg';
import { appendAudit, appendAuditEvents } from '../audit/append-audit.js';
import { verifyAuditChain } from '../audit/verify-audit-chain.js';
import type { Database } from '../database.js';
import { openStore } from '../open-store.js';
import type { StoreConfig } from '../store-config.js';
import {
  deleteSecretPolicy,
  getSecretPolicy,
  listSecretPolicies,
  putSecretPolicy,
} from './secret-policies.js';
import {
  type StoredSecret,
  deleteSecret,
  destroySecretVersions,
  getSecret,
  getSecretVersion,
  insertSecret,
  insertSecretVersion,
  listEndedGraces,
  listSecretConsumers,
  listSecretPaths,
  listSecretVersions,
  listSecretsNotWrappedBy,
  pruneSecretVersions,
  recordSecretReads,
  setVersionsDeletion,
  updateSecret,
} from './secret-rows.js';
import {
  deleteSecretToken,
  getSecretToken,
  insertSecretToken,
  pruneSecretTokens,
} from './secret-tokens.js';

/** What the suite needs from an engine: fresh, empty databases. */
interface EngineFixture {
  freshConfig(): Promise<StoreConfig>;
  close(): Promise<void>;
}

const NOW = 1_700_000_000_000;
const M = 'secret';

function secret(path: string, extra: Partial<StoredSecret> = {}): StoredSecret {
  return {
    mount: M,
    path,
    currentVersion: 0,
    oldestVersion: 0,
    maxVersions: 0,
    casRequired: false,
    deleteVersionAfterMs: 0,
    customMetadata: '{}',
    kekId: 'k1',
    wrappedDataKey: Buffer.from([0, 1, 2, 255]),
    previousVersion: undefined,
    previousValidUntil: undefined,
    pendingSince: undefined,
    createdAt: NOW,
    updatedAt: NOW,
    ...extra,
  };
}

const sealed = (n: number) => Buffer.from([n, 0, 0xff, n]);

/** Writes versions 1..n of `path` (with its row) in one transaction. */
async function withVersions(db: Database, path: string, n: number): Promise<void> {
  await db.transaction(async (tx) => {
    await insertSecret(tx, secret(path, { currentVersion: n, oldestVersion: 1 }));
    for (let v = 1; v <= n; v++) {
      await insertSecretVersion(tx, M, path, {
        version: v,
        createdAt: NOW + v,
        deletionTime: undefined,
        sealedValue: sealed(v),
      });
    }
  });
}

/** The secrets tables' queries, written once and run against every engine. */
function describeSecretStore(name: string, setUp: () => Promise<EngineFixture>): void {
  void describe(`secrets store on ${name}`, () => {
    let fixture: EngineFixture;
    let db: Database;
    before(async () => {
      fixture = await setUp();
    });
    after(async () => {
      await fixture?.close();
    });
    const fresh = async () => {
      db = await openStore(await fixture.freshConfig());
      return db;
    };

    it('stores a secret row and reads it back, with and without a version', async () => {
      await using db = await fresh();
      assert.equal(await getSecret(db, M, 'app/db'), undefined);
      assert.equal(await getSecretVersion(db, M, 'app/db', 0), undefined);
      const row = secret('app/db', {
        maxVersions: 3,
        casRequired: true,
        deleteVersionAfterMs: 60_000,
        customMetadata: '{"owner":"orders"}',
        previousVersion: 1,
        previousValidUntil: NOW + 5,
        pendingSince: NOW + 6,
      });
      await db.transaction((tx) => insertSecret(tx, row));
      assert.deepEqual(await getSecret(db, M, 'app/db'), row);
      assert.equal(await getSecret(db, 'other-mount', 'app/db'), undefined);
      // No version yet: the secret, and no version.
      assert.deepEqual(await getSecretVersion(db, M, 'app/db', 0), {
        secret: row,
        version: undefined,
      });
      await db.transaction(async (tx) => {
        await insertSecretVersion(tx, M, 'app/db', {
          version: 1,
          createdAt: NOW + 1,
          deletionTime: NOW + 60_001,
          sealedValue: sealed(1),
        });
        await insertSecretVersion(tx, M, 'app/db', {
          version: 2,
          createdAt: NOW + 2,
          deletionTime: undefined,
          sealedValue: sealed(2),
        });
        await updateSecret(tx, { ...row, currentVersion: 2, oldestVersion: 1, updatedAt: NOW + 2 });
      });
      const current = await getSecretVersion(db, M, 'app/db', 0);
      assert.equal(current?.secret.currentVersion, 2);
      assert.deepEqual(current?.version, {
        version: 2,
        createdAt: NOW + 2,
        deletionTime: undefined,
        destroyed: false,
        sealedValue: sealed(2),
      });
      const first = await getSecretVersion(db, M, 'app/db', 1);
      assert.deepEqual(first?.version?.deletionTime, NOW + 60_001);
      assert.deepEqual(first?.version?.sealedValue, sealed(1));
      assert.equal((await getSecretVersion(db, M, 'app/db', 3))?.version, undefined);
      // A duplicate version is refused by the primary key.
      await assert.rejects(
        db.transaction((tx) =>
          insertSecretVersion(tx, M, 'app/db', {
            version: 2,
            createdAt: NOW,
            deletionTime: undefined,
            sealedValue: sealed(9),
          }),
        ),
        (e: unknown) => isParleyError(e),
      );
    });

    it('updates only the row that was read (same creation time)', async () => {
      await using db = await fresh();
      await db.transaction((tx) => insertSecret(tx, secret('a')));
      await db.transaction((tx) =>
        updateSecret(tx, secret('a', { createdAt: NOW - 1, currentVersion: 7 })),
      );
      assert.equal((await getSecret(db, M, 'a'))?.currentVersion, 0);
      await db.transaction((tx) =>
        updateSecret(tx, secret('a', { currentVersion: 7, kekId: 'k2', updatedAt: NOW + 9 })),
      );
      const updated = await getSecret(db, M, 'a');
      assert.equal(updated?.currentVersion, 7);
      assert.equal(updated?.kekId, 'k2');
      assert.equal(updated?.updatedAt, NOW + 9);
      assert.equal(updated?.createdAt, NOW);
    });

    it('deletes, undeletes, destroys and prunes versions', async () => {
      await using db = await fresh();
      await withVersions(db, 'app/k', 4);
      await db.transaction(async (tx) => {
        await setVersionsDeletion(tx, M, 'app/k', [2, 3], NOW + 50);
        await destroySecretVersions(tx, M, 'app/k', [3, 9]);
      });
      // Undelete leaves destroyed versions as they are.
      await db.transaction((tx) => setVersionsDeletion(tx, M, 'app/k', [2, 3], undefined));
      const versions = await listSecretVersions(db, M, 'app/k');
      assert.deepEqual(
        versions.map((v) => [v.version, v.deletionTime, v.destroyed, v.sealedValue?.[0]]),
        [
          [1, undefined, false, 1],
          [2, undefined, false, 2],
          [3, NOW + 50, true, undefined],
          [4, undefined, false, 4],
        ],
      );
      // The schema itself refuses a destroyed version that keeps its value.
      await assert.rejects(
        db.execute(
          `UPDATE secret_versions SET sealed_value = $1 WHERE mount = $2 AND path = $3 AND version = 3`,
          [sealed(3), M, 'app/k'],
        ),
        (e: unknown) => isParleyError(e),
      );
      await db.transaction((tx) =>
        recordSecretReads(
          tx,
          [1, 2, 3, 4].map((version) => ({
            mount: M,
            path: 'app/k',
            version,
            spiffeId: 'spiffe://example.org/a',
            at: NOW + version,
          })),
        ),
      );
      await db.transaction((tx) => pruneSecretVersions(tx, M, 'app/k', 3));
      assert.deepEqual(
        (await listSecretVersions(db, M, 'app/k')).map((v) => v.version),
        [3, 4],
      );
      const consumers = await db.query<{ version: number }>(
        'SELECT version FROM secret_consumers WHERE mount = $1 AND path = $2 ORDER BY version',
        [M, 'app/k'],
      );
      assert.deepEqual(
        consumers.map((c) => Number(c.version)),
        [3, 4],
      );
    });

    it('deletes a secret with its versions and consumers', async () => {
      await using db = await fresh();
      await withVersions(db, 'app/k', 2);
      await withVersions(db, 'app/kk', 1);
      await db.transaction((tx) =>
        recordSecretReads(tx, [
          { mount: M, path: 'app/k', version: 2, spiffeId: 'spiffe://example.org/a', at: NOW },
          { mount: M, path: 'app/kk', version: 1, spiffeId: 'spiffe://example.org/a', at: NOW },
        ]),
      );
      assert.equal(await db.transaction((tx) => deleteSecret(tx, M, 'app/k')), true);
      assert.equal(await db.transaction((tx) => deleteSecret(tx, M, 'app/k')), false);
      assert.equal(await getSecret(db, M, 'app/k'), undefined);
      assert.deepEqual(await listSecretVersions(db, M, 'app/k'), []);
      assert.deepEqual(await listSecretConsumers(db, M, 'app/k'), []);
      assert.equal((await listSecretConsumers(db, M, 'app/kk')).length, 1);
      assert.equal((await listSecretVersions(db, M, 'app/kk')).length, 1);
    });

    it('lists the paths under a folder, LIKE wildcards and punctuation taken literally', async () => {
      await using db = await fresh();
      const paths = ['app/a', 'app/b/c', 'app/b/d', 'app_x/y', 'app0', 'appx/z', 'app', 'b/app/c'];
      await db.transaction(async (tx) => {
        for (const p of paths) await insertSecret(tx, secret(p));
        await insertSecret(tx, { ...secret('app/other-mount'), mount: 'kv' });
      });
      assert.deepEqual(await listSecretPaths(db, M, 'app'), ['app/a', 'app/b/c', 'app/b/d']);
      assert.deepEqual(await listSecretPaths(db, M, 'app/b'), ['app/b/c', 'app/b/d']);
      assert.deepEqual(await listSecretPaths(db, M, 'app_'), []);
      assert.deepEqual(await listSecretPaths(db, M, 'app/a'), []);
      assert.deepEqual(await listSecretPaths(db, M, ''), [...paths].sort());
      assert.deepEqual(await listSecretPaths(db, 'kv', ''), ['app/other-mount']);
    });

    it('finds ended graces and data keys wrapped by another key', async () => {
      await using db = await fresh();
      await db.transaction(async (tx) => {
        await insertSecret(tx, secret('a', { previousVersion: 1, previousValidUntil: NOW + 10 }));
        await insertSecret(tx, secret('b', { previousVersion: 1, previousValidUntil: NOW + 5 }));
        await insertSecret(tx, secret('c', { previousVersion: 1, previousValidUntil: NOW + 20 }));
        await insertSecret(tx, secret('d', { kekId: 'k2' }));
      });
      assert.deepEqual(
        (await listEndedGraces(db, NOW + 10, 10)).map((s) => s.path),
        ['b', 'a'],
      );
      assert.deepEqual(
        (await listEndedGraces(db, NOW + 10, 1)).map((s) => s.path),
        ['b'],
      );
      assert.deepEqual(await listEndedGraces(db, NOW, 10), []);
      assert.deepEqual(
        (await listSecretsNotWrappedBy(db, 'k2', 10)).map((s) => s.path),
        ['a', 'b', 'c'],
      );
      assert.deepEqual(
        (await listSecretsNotWrappedBy(db, 'k1', 10)).map((s) => s.path),
        ['d'],
      );
      assert.equal((await listSecretsNotWrappedBy(db, 'k2', 2)).length, 2);
    });

    it('records reads in batches: one row per (version, workload), latest read kept', async () => {
      await using db = await fresh();
      await withVersions(db, 'app/k', 3);
      const A = 'spiffe://example.org/a';
      const B = 'spiffe://example.org/b';
      // 200 reads (several statements), with repeats inside the batch, out of order.
      const reads = Array.from({ length: 200 }, (_, i) => ({
        mount: M,
        path: 'app/k',
        version: (i % 3) + 1,
        spiffeId: i % 2 === 0 ? A : `spiffe://example.org/w${i}`,
        at: NOW + 1000 - i,
      }));
      await db.transaction((tx) => recordSecretReads(tx, reads));
      await db.transaction((tx) =>
        recordSecretReads(tx, [
          { mount: M, path: 'app/k', version: 1, spiffeId: B, at: NOW + 5 },
          { mount: M, path: 'app/k', version: 2, spiffeId: B, at: NOW + 7 },
          // An older read arriving later does not move last_read_at back.
          { mount: M, path: 'app/k', version: 3, spiffeId: A, at: NOW - 5 },
        ]),
      );
      const [count] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM secret_consumers');
      assert.equal(Number(count?.n), 3 + 100 + 2);
      const consumers = await listSecretConsumers(db, M, 'app/k');
      assert.equal(consumers.length, 102);
      assert.deepEqual(consumers[0], { spiffeId: A, version: 3, lastReadAt: NOW + 1000 });
      assert.deepEqual(consumers[1], { spiffeId: B, version: 2, lastReadAt: NOW + 7 });
      const [first] = await db.query<{ first_read_at: number; last_read_at: number }>(
        `SELECT first_read_at, last_read_at FROM secret_consumers
         WHERE spiffe_id = $1 AND version = 3`,
        [A],
      );
      assert.equal(Number(first?.last_read_at), Number(first?.first_read_at));
      await db.transaction((tx) => recordSecretReads(tx, []));
    });

    it('stores login tokens by hash and prunes expired ones', async () => {
      await using db = await fresh();
      const t = (hash: string, expiresAt: number) => ({
        tokenHash: hash,
        spiffeId: 'spiffe://example.org/a',
        createdAt: NOW,
        expiresAt,
      });
      await db.transaction(async (tx) => {
        await insertSecretToken(tx, t('aa', NOW + 10));
        await insertSecretToken(tx, t('bb', NOW + 20));
      });
      assert.deepEqual(await getSecretToken(db, 'aa'), t('aa', NOW + 10));
      assert.equal(await getSecretToken(db, 'zz'), undefined);
      await assert.rejects(
        db.transaction((tx) => insertSecretToken(tx, t('aa', NOW))),
        (e: unknown) => isParleyError(e),
      );
      assert.equal(await pruneSecretTokens(db, NOW + 10), 1);
      assert.equal(await getSecretToken(db, 'aa'), undefined);
      await deleteSecretToken(db, 'bb');
      assert.equal(await getSecretToken(db, 'bb'), undefined);
    });

    it('stores admin policies: put creates or replaces, keeping the creation time', async () => {
      await using db = await fresh();
      await db.transaction((tx) => putSecretPolicy(tx, { name: 'b', document: '{}', now: NOW }));
      await db.transaction((tx) =>
        putSecretPolicy(tx, { name: 'a', document: '{"x":1}', now: NOW + 1 }),
      );
      await db.transaction((tx) =>
        putSecretPolicy(tx, { name: 'b', document: '{"y":2}', now: NOW + 2 }),
      );
      assert.deepEqual(await getSecretPolicy(db, 'b'), {
        name: 'b',
        document: '{"y":2}',
        createdAt: NOW,
        updatedAt: NOW + 2,
      });
      assert.deepEqual(
        (await listSecretPolicies(db)).map((p) => p.name),
        ['a', 'b'],
      );
      assert.equal(await db.transaction((tx) => deleteSecretPolicy(tx, 'a')), true);
      assert.equal(await db.transaction((tx) => deleteSecretPolicy(tx, 'a')), false);
      assert.equal(await getSecretPolicy(db, 'a'), undefined);
    });

    it('appends a batch of audit events to the chain in one go', async () => {
      await using db = await fresh();
      await db.transaction((tx) =>
        appendAudit(tx, { at: NOW, module: 'm', action: 'a', subject: 's', detail: {} }),
      );
      const batch = Array.from({ length: 150 }, (_, i) => ({
        at: NOW + i,
        module: 'secrets',
        action: 'kv.read',
        subject: `spiffe://example.org/w${i}`,
        detail: { path: 'app/k', version: i },
      }));
      const stored = await db.transaction((tx) => appendAuditEvents(tx, batch));
      assert.deepEqual(
        stored.map((e) => e.seq),
        batch.map((_, i) => i + 2),
      );
      assert.equal(
        await db.transaction((tx) => appendAuditEvents(tx, [])).then((e) => e.length),
        0,
      );
      await db.transaction((tx) =>
        appendAudit(tx, { at: NOW, module: 'm', action: 'b', subject: 's', detail: {} }),
      );
      assert.deepEqual(await verifyAuditChain(db), { ok: true, count: 152 });
      const [row] = await db.query<{ subject: string; detail: string }>(
        'SELECT subject, detail FROM audit_events WHERE seq = 77',
      );
      assert.deepEqual(row, {
        subject: 'spiffe://example.org/w75',
        detail: '{"path":"app/k","version":75}',
      });
    });
  });
}

describeSecretStore('SQLite', async () => {
  const dir = await makeTempDir('parley-secret-store-');
  let n = 0;
  return {
    freshConfig: async () => ({ sqlite: { path: join(dir.path, `store-${++n}.db`) } }),
    close: () => dir.remove(),
  };
});

describeSecretStore('PostgreSQL', async () => {
  const server = await startPostgres();
  let n = 0;
  return {
    freshConfig: async () => {
      // Databases collate as glibc's en_US does (punctuation ignored at first), where 'app/x'
      // sorts after 'app0': no query may depend on the collation's order.
      const name = `secrets_${++n}`;
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      try {
        await client.query(
          `CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu
           ICU_LOCALE 'en-US-u-ka-shifted' LOCALE 'C'`,
        );
      } finally {
        await client.end();
      }
      const url = new URL(server.url);
      url.pathname = `/${name}`;
      const probe = new pg.Client({ connectionString: url.href });
      await probe.connect();
      try {
        const r = await probe.query<{ after: boolean }>("SELECT 'app/x' > 'app0' AS after");
        assert.equal(r.rows[0]?.after, true);
      } finally {
        await probe.end();
      }
      return { postgres: { url: url.href } };
    },
    close: () => server.stop(),
  };
});

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Clock, isParleyError } from '@parley/core';
import { type Database, type StoreConfig, openStore, verifyAuditChain } from '@parley/store';
import { createDatabase, makeTempDir, startPostgres } from '@parley/testing';
import { newDataKey } from '../crypto/envelope.js';
import { Keyring } from '../crypto/keyring.js';
import { createSecretEngine } from './secret-engine.js';
import type { AccessRequest, SecretCaller, SecretEngine } from './secret-types.js';

const T0 = Date.UTC(2026, 10, 24);
const ADMIN: SecretCaller = { kind: 'admin', name: 'admin-socket' };
const APP: SecretCaller = { kind: 'workload', spiffeId: 'spiffe://example.org/app' };
const OTHER: SecretCaller = { kind: 'workload', spiffeId: 'spiffe://example.org/other' };
const ctx = { requestId: 'r-1' };
const SECRET_VALUE = 'hunter2-very-secret-value';

interface Fixture {
  readonly db: Database & { transactions: number };
  readonly engine: SecretEngine;
  readonly clock: Clock & { t: number };
  readonly k1: { id: string; key: Buffer };
  readonly revoked: string[];
  make(keyring: Keyring): SecretEngine;
}

// app may read/write/list/delete app/**; nobody else may do anything.
const decide = (r: AccessRequest) =>
  r.spiffeId === APP.spiffeId && (r.path === 'app' || r.path.startsWith('app/'))
    ? ({ allowed: true, policy: 'p', rule: 'r' } as const)
    : ({ allowed: false, reason: 'no-matching-rule' } as const);

/** The database's transactions, counted (to see the group commit at work). */
function counting(db: Database): Database & { transactions: number } {
  const counted = {
    engine: db.engine,
    transactions: 0,
    query: db.query.bind(db),
    execute: db.execute.bind(db),
    transaction: ((fn, options) => {
      counted.transactions += 1;
      return db.transaction(fn, options);
    }) as Database['transaction'],
    close: () => db.close(),
    [Symbol.asyncDispose]: () => db.close(),
  };
  return counted;
}

/** Every audit row of the secrets module, decoded. */
async function auditRows(db: Database) {
  const rows = await db.query<{ action: string; subject: string; detail: string }>(
    "SELECT action, subject, detail FROM audit_events WHERE module = 'secrets' ORDER BY seq",
  );
  return rows.map((r) => ({
    action: r.action,
    subject: r.subject,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
  }));
}

/** An error's message and the messages of its causes, as one text. */
function messages(e: unknown): string {
  const out: string[] = [];
  for (let c = e; c instanceof Error; c = c.cause) out.push(c.message, String(c.stack));
  return out.join('\n');
}

async function fixture(dir: string, config?: StoreConfig): Promise<Fixture> {
  const db = counting(await openStore(config ?? { sqlite: { path: join(dir, 'store.db') } }));
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  const revoked: string[] = [];
  const k1 = { id: 'k1', key: newDataKey() };
  const make = (keyring: Keyring) =>
    createSecretEngine({
      db,
      keyring,
      clock,
      decide,
      beforeRevoke: async (_path, data) => {
        revoked.push(String(data['password']));
      },
    });
  return { db, engine: make(new Keyring([k1])), clock, k1, revoked, make };
}

describe('secret engine', () => {
  it('writes versions, reads them back, enforces CAS and max_versions', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    const { engine } = f;
    const w1 = await engine.write(APP, 'app/db', { password: 'one' }, { ...ctx, cas: 0 });
    assert.equal(w1.kind === 'ok' && w1.version.version, 1);
    assert.deepEqual(await engine.write(APP, 'app/db', { password: 'x' }, { ...ctx, cas: 0 }), {
      kind: 'cas-mismatch',
    });
    const w2 = await engine.write(APP, 'app/db', { password: 'two' }, { ...ctx, cas: 1 });
    assert.equal(w2.kind === 'ok' && w2.version.version, 2);
    const latest = await engine.read(APP, 'app/db', ctx);
    assert.ok(latest.kind === 'ok');
    assert.deepEqual(latest.data, { password: 'two' });
    const old = await engine.read(APP, 'app/db', { ...ctx, version: 1 });
    assert.ok(old.kind === 'ok' && old.data['password'] === 'one');
    assert.equal((await engine.read(APP, 'app/db', { ...ctx, version: 9 })).kind, 'not-found');
    assert.equal((await engine.read(APP, 'app/none', ctx)).kind, 'not-found');

    assert.equal(
      (await engine.writeMetadata(APP, 'app/db', { casRequired: true, maxVersions: 2 }, ctx)).kind,
      'ok',
    );
    assert.deepEqual(await engine.write(APP, 'app/db', { password: 'x' }, ctx), {
      kind: 'cas-required',
    });
    await engine.write(APP, 'app/db', { password: 'three' }, { ...ctx, cas: 2 });
    const meta = await engine.readMetadata(APP, 'app/db', ctx);
    assert.ok(meta.kind === 'ok');
    assert.equal(meta.metadata.currentVersion, 3);
    assert.equal(meta.metadata.oldestVersion, 2);
    assert.deepEqual(
      meta.metadata.versions.map((v) => v.version),
      [2, 3],
    );
    assert.equal((await engine.read(APP, 'app/db', { ...ctx, version: 1 })).kind, 'not-found');
    await f.db.close();
  });

  it('deletes, undeletes, destroys and expires versions', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    const { engine } = f;
    await engine.write(APP, 'app/k', { v: '1' }, ctx);
    await engine.write(APP, 'app/k', { v: '2' }, ctx);
    assert.equal((await engine.deleteLatest(APP, 'app/k', ctx)).kind, 'ok');
    const deleted = await engine.read(APP, 'app/k', ctx);
    assert.ok(deleted.kind === 'unavailable' && deleted.version.deletionTime === T0);
    await engine.undeleteVersions(APP, 'app/k', [2], ctx);
    assert.equal((await engine.read(APP, 'app/k', ctx)).kind, 'ok');
    await engine.destroyVersions(APP, 'app/k', [1], ctx);
    const destroyed = await engine.read(APP, 'app/k', { ...ctx, version: 1 });
    assert.ok(destroyed.kind === 'unavailable' && destroyed.version.destroyed);
    await engine.undeleteVersions(APP, 'app/k', [1], ctx);
    assert.equal((await engine.read(APP, 'app/k', { ...ctx, version: 1 })).kind, 'unavailable');

    await engine.writeMetadata(APP, 'app/k', { deleteVersionAfterMs: 60_000 }, ctx);
    await engine.write(APP, 'app/k', { v: '3' }, ctx);
    assert.equal((await engine.read(APP, 'app/k', ctx)).kind, 'ok');
    f.clock.t = T0 + 60_000;
    assert.equal((await engine.read(APP, 'app/k', ctx)).kind, 'unavailable');
    assert.equal((await engine.deleteMetadata(APP, 'app/k', ctx)).kind, 'ok');
    assert.equal((await engine.readMetadata(APP, 'app/k', ctx)).kind, 'not-found');
    await f.db.close();
  });

  it('lists direct children, folders with a slash', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    for (const p of ['app/a', 'app/b/c', 'app/b/d', 'app/b_x', 'appx/z']) {
      await f.engine.write(ADMIN, p, { v: '1' }, ctx);
    }
    const r = await f.engine.list(APP, 'app', ctx);
    assert.deepEqual(r, { kind: 'ok', keys: ['a', 'b/', 'b_x'] });
    assert.deepEqual(await f.engine.list(ADMIN, '', ctx), { kind: 'ok', keys: ['app/', 'appx/'] });
    assert.deepEqual(await f.engine.list(APP, 'app/none', ctx), { kind: 'not-found' });
    assert.deepEqual(await f.engine.list(OTHER, 'app', ctx), { kind: 'denied' });
    await f.db.close();
  });

  it('denies by policy and audits every request, never a value; values are sealed on disk', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    await f.engine.write(APP, 'app/db', { password: SECRET_VALUE }, ctx);
    assert.deepEqual(await f.engine.read(OTHER, 'app/db', ctx), { kind: 'denied' });
    assert.deepEqual(await f.engine.write(OTHER, 'app/db', { a: 'b' }, ctx), { kind: 'denied' });
    assert.equal((await f.engine.read(APP, 'app/db', ctx)).kind, 'ok');
    const rows = await f.db.query<{ action: string; subject: string; detail: string }>(
      "SELECT action, subject, detail FROM audit_events WHERE module = 'secrets' ORDER BY seq",
    );
    assert.deepEqual(
      rows.map((r) => [r.action, r.subject, (JSON.parse(r.detail) as { outcome: string }).outcome]),
      [
        ['kv.write', APP.spiffeId, 'allowed'],
        ['kv.read', OTHER.spiffeId, 'denied'],
        ['kv.write', OTHER.spiffeId, 'denied'],
        ['kv.read', APP.spiffeId, 'allowed'],
      ],
    );
    assert.ok(!JSON.stringify(rows).includes(SECRET_VALUE));
    assert.deepEqual(await verifyAuditChain(f.db), { ok: true, count: 4 });
    await f.db.close();
    const bytes = Buffer.concat(
      await Promise.all(
        ['store.db', 'store.db-wal'].map((n) =>
          readFile(join(dir.path, n)).catch(() => Buffer.alloc(0)),
        ),
      ),
    );
    assert.ok(bytes.length > 0);
    assert.ok(!bytes.includes(Buffer.from(SECRET_VALUE)), 'the value is on disk in plaintext');
  });

  it('fails every request whose audit record cannot be written, and applies no write', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    await f.engine.write(APP, 'app/db', { password: 'one' }, ctx);
    await f.db.execute(
      "CREATE TRIGGER audit_full BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    );
    const auditFailure = (e: unknown) =>
      isParleyError(e, 'internal') &&
      /audit record could not be written/.test(e.message) &&
      /disk full/.test(String((e.cause as Error).message));
    await assert.rejects(f.engine.read(APP, 'app/db', ctx), auditFailure);
    await assert.rejects(f.engine.read(OTHER, 'app/db', ctx), auditFailure);
    await assert.rejects(f.engine.write(APP, 'app/db', { password: 'two' }, ctx), auditFailure);
    await f.db.execute('DROP TRIGGER audit_full');
    const r = await f.engine.read(APP, 'app/db', ctx);
    assert.ok(r.kind === 'ok' && r.version.version === 1 && r.data['password'] === 'one');
    await f.db.close();
  });

  it('rotates with grace: previous readable until revoked; consumers tracked', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    const { engine } = f;
    await engine.write(ADMIN, 'app/db', { password: 'one' }, ctx);
    await engine.read(APP, 'app/db', ctx);
    const produce = async (current: Readonly<Record<string, unknown>> | undefined) => ({
      ...current,
      password: 'two',
    });
    const s = await engine.rotate(ADMIN, 'app/db', { ...ctx, graceMs: 30_000, produce });
    assert.equal(s.current, 2);
    assert.equal(s.previous, 1);
    assert.equal(s.previousValidUntil, T0 + 30_000);
    assert.deepEqual(
      s.consumers.map((c) => [c.spiffeId, c.lastReadVersion, c.hasCurrent]),
      [[APP.spiffeId, 1, false]],
    );
    assert.equal((await engine.read(APP, 'app/db', { ...ctx, version: 1 })).kind, 'ok');
    await engine.read(APP, 'app/db', ctx);
    assert.equal((await engine.rotationStatus('app/db'))?.consumers[0]?.hasCurrent, true);

    f.clock.t = T0 + 30_000;
    assert.equal((await engine.read(APP, 'app/db', { ...ctx, version: 1 })).kind, 'unavailable');
    assert.equal(await engine.finishExpiredGraces(), 1);
    assert.deepEqual(f.revoked, ['one']);
    const after = await engine.rotationStatus('app/db');
    assert.equal(after?.previous, undefined);
    const v1 = await engine.read(APP, 'app/db', { ...ctx, version: 1 });
    assert.ok(v1.kind === 'unavailable' && v1.version.destroyed);

    // A failing producer leaves the current version in place and allows the next rotation.
    await assert.rejects(
      engine.rotate(ADMIN, 'app/db', {
        ...ctx,
        graceMs: 1000,
        produce: async () => {
          throw new Error('database down');
        },
      }),
      /database down/,
    );
    const next = await engine.rotate(ADMIN, 'app/db', { ...ctx, graceMs: 1000, produce });
    assert.equal(next.current, 3);
    assert.equal((await engine.revokePrevious(ADMIN, 'app/db', ctx)).kind, 'ok');
    await assert.rejects(
      engine.rotate(APP, 'app/db', { ...ctx, graceMs: 1, produce }),
      /permission/,
    );
    await f.db.close();
  });

  it('re-wraps data keys under a new key-encryption key', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    await f.engine.write(ADMIN, 'app/a', { v: 'a' }, ctx);
    await f.engine.write(ADMIN, 'app/b', { v: 'b' }, ctx);
    const k2 = { id: 'k2', key: newDataKey() };
    const rotated = f.make(new Keyring([k2, f.k1]));
    assert.deepEqual(await rotated.rewrap(ADMIN, ctx), { rewrapped: 2 });
    assert.deepEqual(await rotated.rewrap(ADMIN, ctx), { rewrapped: 0 });
    const onlyNew = f.make(new Keyring([k2]));
    const r = await onlyNew.read(APP, 'app/b', ctx);
    assert.ok(r.kind === 'ok' && r.data['v'] === 'b');
    await assert.rejects(f.engine.read(APP, 'app/a', ctx), /"k2", which is not configured/);
    await f.db.close();
  });

  it('answers CAS as Vault does and audits refused writes', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    const { engine } = f;
    assert.deepEqual(await engine.write(APP, 'app/c', { a: '1' }, { ...ctx, cas: 1 }), {
      kind: 'cas-mismatch',
    });
    assert.equal((await engine.read(APP, 'app/c', ctx)).kind, 'not-found');
    assert.equal((await engine.write(APP, 'app/c', { a: '1' }, { ...ctx, cas: 0 })).kind, 'ok');
    assert.equal((await engine.write(APP, 'app/c', { a: '2' }, ctx)).kind, 'ok');
    assert.deepEqual(await engine.write(APP, 'app/c', { a: '3' }, { ...ctx, cas: 1 }), {
      kind: 'cas-mismatch',
    });
    const big = { blob: 'x'.repeat(512 * 1024) };
    assert.deepEqual(await engine.write(APP, 'app/c', big, ctx), { kind: 'too-large' });
    const r = await engine.read(APP, 'app/c', ctx);
    assert.ok(r.kind === 'ok' && r.version.version === 2 && r.data['a'] === '2');
    assert.deepEqual(
      (await auditRows(f.db)).map((e) => [e.action, e.detail['outcome'], e.detail['version']]),
      [
        ['kv.write', 'cas-mismatch', undefined],
        ['kv.read', 'not-found', undefined],
        ['kv.write', 'allowed', 1],
        ['kv.write', 'allowed', 2],
        ['kv.write', 'cas-mismatch', undefined],
        ['kv.write', 'too-large', undefined],
        ['kv.read', 'allowed', 2],
      ],
    );
    await f.db.close();
  });

  it('keeps max_versions (Vault’s 10 by default), pruning the oldest', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    const { engine } = f;
    for (let i = 1; i <= 12; i++) await engine.write(APP, 'app/m', { i: String(i) }, ctx);
    let meta = await engine.readMetadata(APP, 'app/m', ctx);
    assert.ok(meta.kind === 'ok');
    assert.equal(meta.metadata.oldestVersion, 3);
    assert.deepEqual(
      meta.metadata.versions.map((v) => v.version),
      [3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    );
    assert.equal((await engine.read(APP, 'app/m', { ...ctx, version: 2 })).kind, 'not-found');
    const v3 = await engine.read(APP, 'app/m', { ...ctx, version: 3 });
    assert.ok(v3.kind === 'ok' && v3.data['i'] === '3');
    // Lowering max_versions takes effect at the next write.
    await engine.writeMetadata(APP, 'app/m', { maxVersions: 2 }, ctx);
    await engine.write(APP, 'app/m', { i: '13' }, ctx);
    meta = await engine.readMetadata(APP, 'app/m', ctx);
    assert.ok(meta.kind === 'ok');
    assert.deepEqual(
      meta.metadata.versions.map((v) => v.version),
      [12, 13],
    );
    await assert.rejects(engine.writeMetadata(APP, 'app/m', { maxVersions: -1 }, ctx), RangeError);
    await f.db.close();
  });

  it('reads, writes and deletes metadata; custom metadata comes with every read', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    const { engine } = f;
    // Metadata may be written before any version: the secret exists without data.
    const custom = { owner: 'orders', tier: 'gold' };
    assert.deepEqual(await engine.writeMetadata(APP, 'app/meta', { customMetadata: custom }, ctx), {
      kind: 'ok',
    });
    assert.equal((await engine.read(APP, 'app/meta', ctx)).kind, 'not-found');
    let meta = await engine.readMetadata(APP, 'app/meta', ctx);
    assert.ok(meta.kind === 'ok');
    assert.deepEqual(meta.metadata, {
      path: 'app/meta',
      currentVersion: 0,
      oldestVersion: 0,
      maxVersions: 0,
      casRequired: false,
      deleteVersionAfterMs: 0,
      customMetadata: custom,
      createdTime: T0,
      updatedTime: T0,
      versions: [],
      staging: { current: 0 },
    });
    f.clock.t = T0 + 10;
    const w = await engine.write(APP, 'app/meta', { k: 'v' }, ctx);
    assert.deepEqual(w, {
      kind: 'ok',
      version: { version: 1, createdTime: T0 + 10, deletionTime: undefined, destroyed: false },
      customMetadata: custom,
    });
    const r = await engine.read(APP, 'app/meta', ctx);
    assert.ok(r.kind === 'ok');
    assert.deepEqual(r.customMetadata, custom);
    await engine.writeMetadata(APP, 'app/meta', { casRequired: true }, ctx);
    meta = await engine.readMetadata(APP, 'app/meta', ctx);
    assert.ok(meta.kind === 'ok');
    assert.equal(meta.metadata.casRequired, true);
    assert.deepEqual(meta.metadata.customMetadata, custom, 'other settings are kept');
    assert.equal(meta.metadata.updatedTime, T0 + 10);
    assert.deepEqual(await engine.readMetadata(OTHER, 'app/meta', ctx), { kind: 'denied' });
    assert.deepEqual(await engine.deleteMetadata(OTHER, 'app/meta', ctx), { kind: 'denied' });
    assert.deepEqual(await engine.deleteMetadata(APP, 'app/meta', ctx), { kind: 'ok' });
    assert.deepEqual(await engine.deleteMetadata(APP, 'app/meta', ctx), { kind: 'not-found' });
    assert.equal((await engine.read(APP, 'app/meta', { ...ctx, version: 1 })).kind, 'not-found');
    assert.deepEqual(await engine.deleteLatest(APP, 'app/meta', ctx), { kind: 'not-found' });
    // Re-created from scratch: versions start at 1 again.
    const again = await engine.write(APP, 'app/meta', { k: 'w' }, ctx);
    assert.ok(again.kind === 'ok' && again.version.version === 1);
    assert.deepEqual(again.customMetadata, {});
    await f.db.close();
  });

  it('rotation: a failing producer discards the pending stage; one rotation at a time', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    const { engine } = f;
    const failing = async (): Promise<never> => {
      throw new Error('database down');
    };
    // On a path that does not exist: nothing is left behind.
    await assert.rejects(
      engine.rotate(ADMIN, 'app/new', { ...ctx, graceMs: 1000, produce: failing }),
      /database down/,
    );
    assert.equal((await engine.readMetadata(ADMIN, 'app/new', ctx)).kind, 'not-found');

    await engine.write(ADMIN, 'app/db', { password: 'one' }, ctx);
    await assert.rejects(
      engine.rotate(ADMIN, 'app/db', { ...ctx, graceMs: 1000, produce: failing }),
      /database down/,
    );
    const meta = await engine.readMetadata(ADMIN, 'app/db', ctx);
    assert.ok(meta.kind === 'ok');
    assert.deepEqual(meta.metadata.staging, { current: 1 });
    assert.equal(meta.metadata.versions.length, 1);

    // While a producer runs, a second rotation is refused; the first one completes.
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = engine.rotate(ADMIN, 'app/db', {
      ...ctx,
      graceMs: 1000,
      produce: async (current) => {
        assert.deepEqual(current, { password: 'one' });
        await gate;
        return { password: 'two' };
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await assert.rejects(
      engine.rotate(ADMIN, 'app/db', { ...ctx, graceMs: 1000, produce: failing }),
      (e: unknown) => isParleyError(e, 'failed-precondition') && /in progress/.test(e.message),
    );
    release();
    const status = await first;
    assert.equal(status.current, 2);
    assert.equal(status.previous, 1);
    const actions = (await auditRows(f.db))
      .filter((e) => e.action === 'rotate')
      .map((e) => e.detail['outcome']);
    assert.deepEqual(actions, ['failed', 'failed', 'allowed']);
    await assert.rejects(
      engine.rotate(ADMIN, 'app/db', { ...ctx, graceMs: -1, produce: failing }),
      RangeError,
    );
    await f.db.close();
  });

  it('rotation keeps the previous version through its grace even with max_versions 1', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    const { engine } = f;
    await engine.writeMetadata(ADMIN, 'app/db', { maxVersions: 1 }, ctx);
    await engine.write(ADMIN, 'app/db', { password: 'one' }, ctx);
    const next = (password: string) => async () => ({ password });
    await engine.rotate(ADMIN, 'app/db', { ...ctx, graceMs: 10_000, produce: next('two') });
    // A write during the grace prunes no version from the previous one on (oldest_version
    // stops there).
    await engine.write(ADMIN, 'app/db', { password: 'three' }, ctx);
    const v1 = await engine.read(APP, 'app/db', { ...ctx, version: 1 });
    assert.ok(v1.kind === 'ok' && v1.data['password'] === 'one');
    assert.equal((await engine.read(APP, 'app/db', { ...ctx, version: 2 })).kind, 'ok');
    // Rotating again ends the grace of the previous one first (revoked, then pruned).
    const s = await engine.rotate(ADMIN, 'app/db', { ...ctx, graceMs: 10_000, produce: next('4') });
    assert.deepEqual([s.current, s.previous], [4, 3]);
    assert.deepEqual(f.revoked, ['one']);
    const meta = await engine.readMetadata(ADMIN, 'app/db', ctx);
    assert.ok(meta.kind === 'ok');
    assert.deepEqual(
      meta.metadata.versions.map((v) => v.version),
      [3, 4],
    );
    assert.equal(meta.metadata.oldestVersion, 3);
    assert.deepEqual(await engine.revokePrevious(ADMIN, 'app/db', ctx), { kind: 'ok' });
    assert.deepEqual(await engine.revokePrevious(ADMIN, 'app/db', ctx), { kind: 'not-found' });
    assert.deepEqual(f.revoked, ['one', 'three']);
    await f.db.close();
  });

  it('keeps revoking ended graces when one revocation fails', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    let failOn = 'a';
    const engine = createSecretEngine({
      db: f.db,
      keyring: new Keyring([f.k1]),
      clock: f.clock,
      decide,
      beforeRevoke: async (_path, data) => {
        if (data['password'] === failOn) throw new Error('database down');
      },
    });
    for (const p of ['app/a', 'app/b']) {
      await engine.write(ADMIN, p, { password: p.slice(4) }, ctx);
      await engine.rotate(ADMIN, p, { ...ctx, graceMs: 1000, produce: async () => ({ x: '2' }) });
    }
    f.clock.t = T0 + 1000;
    await assert.rejects(
      engine.finishExpiredGraces(),
      (e: unknown) =>
        isParleyError(e, 'unavailable') &&
        /1 ended grace\(s\) could not be revoked, the first of app\/a/.test(e.message) &&
        /database down/.test((e.cause as Error).message),
    );
    assert.equal((await engine.rotationStatus('app/a'))?.previous, 1);
    assert.equal((await engine.rotationStatus('app/b'))?.previous, undefined);
    failOn = '';
    assert.equal(await engine.finishExpiredGraces(), 1);
    assert.equal(await engine.finishExpiredGraces(), 0);
    assert.equal(await engine.rotationStatus('app/none'), undefined);
    await f.db.close();
  });

  it('group-commits reads and denials: many requests, few transactions', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    await f.engine.write(ADMIN, 'app/db', { password: 'one' }, ctx);
    await f.engine.write(ADMIN, 'app/db', { password: 'two' }, ctx);
    const before = f.db.transactions;
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        f.engine.read(i % 3 === 0 ? OTHER : APP, 'app/db', {
          requestId: `r-${i}`,
          ...(i % 2 === 0 && { version: 1 }),
        }),
      ),
    );
    assert.equal(results.filter((r) => r.kind === 'ok').length, 200);
    assert.equal(results.filter((r) => r.kind === 'denied').length, 100);
    assert.ok(f.db.transactions - before <= 3, `${f.db.transactions - before} transactions`);
    const rows = await auditRows(f.db);
    assert.equal(rows.length, 2 + 300);
    assert.deepEqual(
      new Set(rows.slice(2).map((r) => r.detail['requestId'])),
      new Set(results.map((_, i) => `r-${i}`)),
    );
    // Consumers: the workload's reads of both versions; the admin's reads are not recorded.
    await f.engine.read(ADMIN, 'app/db', ctx);
    const status = await f.engine.rotationStatus('app/db');
    assert.deepEqual(
      status?.consumers.map((c) => [c.spiffeId, c.lastReadVersion, c.hasCurrent]),
      [[APP.spiffeId, 2, true]],
    );
    const [consumers] = await f.db.query<{ n: number }>(
      'SELECT COUNT(*) AS n FROM secret_consumers',
    );
    assert.equal(Number(consumers?.n), 2);
    assert.deepEqual(await verifyAuditChain(f.db), { ok: true, count: rows.length + 1 });
    await f.db.close();
  });

  it('fails every request of a batch whose audit cannot be written; no value in any error', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    await f.engine.write(APP, 'app/db', { password: SECRET_VALUE }, ctx);
    await f.db.execute(
      "CREATE TRIGGER audit_full BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    );
    const settled = await Promise.allSettled([
      ...Array.from({ length: 20 }, () => f.engine.read(APP, 'app/db', ctx)),
      f.engine.read(OTHER, 'app/db', ctx),
      f.engine.readMetadata(APP, 'app/db', ctx),
      f.engine.list(APP, 'app', ctx),
      f.engine.write(APP, 'app/db', { password: `${SECRET_VALUE}-2` }, ctx),
      f.engine.writeMetadata(APP, 'app/db', { maxVersions: 3 }, ctx),
      f.engine.destroyVersions(APP, 'app/db', [1], ctx),
      f.engine.deleteMetadata(APP, 'app/db', ctx),
      f.engine.rotate(ADMIN, 'app/db', { ...ctx, graceMs: 1, produce: async () => ({ p: 'q' }) }),
    ]);
    for (const s of settled) {
      assert.equal(s.status, 'rejected');
      assert.ok(!messages(s.reason).includes(SECRET_VALUE), 'a value in an error');
    }
    await f.db.execute('DROP TRIGGER audit_full');
    const meta = await f.engine.readMetadata(APP, 'app/db', ctx);
    assert.ok(meta.kind === 'ok');
    assert.equal(meta.metadata.maxVersions, 0);
    assert.deepEqual(meta.metadata.staging, { current: 1 });
    const r = await f.engine.read(APP, 'app/db', ctx);
    assert.ok(r.kind === 'ok' && r.version.version === 1 && r.data['password'] === SECRET_VALUE);
    assert.deepEqual(
      (await auditRows(f.db)).map((e) => e.action),
      ['kv.write', 'kv.metadata.read', 'kv.read'],
    );
    // The failed rotation left no pending stage behind.
    const s = await f.engine.rotate(ADMIN, 'app/db', {
      ...ctx,
      graceMs: 1,
      produce: async () => ({ p: 'q' }),
    });
    assert.equal(s.current, 2);
    await f.db.close();
  });

  it('makes tampering with an audit row detectable', async () => {
    await using dir = await makeTempDir('parley-secrets-');
    const f = await fixture(dir.path);
    await f.engine.write(APP, 'app/db', { password: 'one' }, ctx);
    await f.engine.read(OTHER, 'app/db', ctx);
    await f.engine.read(APP, 'app/db', ctx);
    assert.deepEqual(await verifyAuditChain(f.db), { ok: true, count: 3 });
    // The table refuses edits; someone with the file drops that guard and hides the denial.
    await assert.rejects(f.db.execute("UPDATE audit_events SET subject = 'x' WHERE seq = 2"));
    await f.db.execute('DROP TRIGGER audit_events_no_update');
    await f.db.execute(
      `UPDATE audit_events SET detail = replace(detail, '"denied"', '"allowed"') WHERE seq = 2`,
    );
    const verdict = await verifyAuditChain(f.db);
    assert.equal(verdict.ok, false);
    assert.equal(!verdict.ok && verdict.seq, 2);
    await f.db.close();
  });
});

describe('secret engine on PostgreSQL', () => {
  it('writes, reads, lists, rotates and audits (smoke)', async () => {
    await using server = await startPostgres();
    const f = await fixture('', { postgres: { url: await createDatabase(server, 'secrets') } });
    const { engine } = f;
    await engine.write(APP, 'app/db', { password: 'one' }, { ...ctx, cas: 0 });
    await engine.write(APP, 'app/db', { password: 'two' }, { ...ctx, cas: 1 });
    await engine.write(ADMIN, 'app/x/y', { v: '1' }, ctx);
    const reads = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        engine.read(i % 4 === 0 ? OTHER : APP, 'app/db', { requestId: `r-${i}`, version: 1 }),
      ),
    );
    assert.equal(reads.filter((r) => r.kind === 'ok' && r.data['password'] === 'one').length, 75);
    assert.deepEqual(await engine.list(APP, 'app', ctx), { kind: 'ok', keys: ['db', 'x/'] });
    await engine.deleteLatest(APP, 'app/db', ctx);
    assert.equal((await engine.read(APP, 'app/db', ctx)).kind, 'unavailable');
    await engine.undeleteVersions(APP, 'app/db', [2], ctx);
    const s = await engine.rotate(ADMIN, 'app/db', {
      ...ctx,
      graceMs: 1000,
      produce: async () => ({ password: 'three' }),
    });
    assert.deepEqual(
      [s.current, s.previous, s.consumers.map((c) => [c.lastReadVersion, c.hasCurrent])],
      [3, 2, [[1, false]]],
    );
    f.clock.t = T0 + 1000;
    assert.equal(await engine.finishExpiredGraces(), 1);
    assert.deepEqual(f.revoked, ['two']);
    const k2 = { id: 'k2', key: newDataKey() };
    assert.deepEqual(await f.make(new Keyring([k2, f.k1])).rewrap(ADMIN, ctx), { rewrapped: 2 });
    const r = await f.make(new Keyring([k2])).read(APP, 'app/db', ctx);
    assert.ok(r.kind === 'ok' && r.data['password'] === 'three');
    const verdict = await verifyAuditChain(f.db);
    assert.ok(verdict.ok && verdict.count > 100);
    await f.db.close();
  });
});

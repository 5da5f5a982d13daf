import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Clock, isParleyError } from '@parley/core';
import { type Database, openStore, verifyAuditChain } from '@parley/store';
import { makeTempDir } from '@parley/testing';
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
  readonly db: Database;
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

async function fixture(dir: string): Promise<Fixture> {
  const db = await openStore({ sqlite: { path: join(dir, 'store.db') } });
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
});

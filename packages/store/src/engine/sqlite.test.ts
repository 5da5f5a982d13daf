import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '@parley/testing';
import { verifyAuditChain } from '../audit/verify-audit-chain.js';
import { openStore } from '../open-store.js';

void test('the SQLite file is private, in WAL mode with synchronous=FULL', async () => {
  await using dir = await makeTempDir('parley-sqlite-');
  const path = join(dir.path, 'store.db');
  await using db = await openStore({ sqlite: { path } });
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(await db.query('PRAGMA journal_mode'), [{ journal_mode: 'wal' }]);
  assert.deepEqual(await db.query('PRAGMA synchronous'), [{ synchronous: 2 }]);
});

void test('opening a database in a missing directory fails with the path', async () => {
  await assert.rejects(
    openStore({ sqlite: { path: '/nonexistent-parley-dir/store.db' } }),
    /cannot open SQLite database \/nonexistent-parley-dir\/store\.db/,
  );
});

// The child appends audit events, printing each seq only after its transaction committed.
const WRITER = `
const [storeUrl, path] = process.argv.slice(1);
const { openStore, appendAudit } = await import(storeUrl);
const db = await openStore({ sqlite: { path } });
for (let i = 1; ; i++) {
  await db.transaction((tx) =>
    appendAudit(tx, { at: i, module: 'test', action: 'write', subject: 's' + i, detail: { i } }),
  );
  process.stdout.write(i + '\\n');
}`;

void test('every write acknowledged before a kill -9 is present after reopening', async () => {
  await using dir = await makeTempDir('parley-sqlite-');
  const path = join(dir.path, 'store.db');
  const storeUrl = new URL('../index.js', import.meta.url).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER, storeUrl, path], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.split('\n').length > 300) resolve();
    });
    child.on('exit', () => reject(new Error(`writer exited early: ${stderr}`)));
  });
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');

  const acknowledged = stdout
    .split('\n')
    .slice(0, -1) // a partial last line was not fully acknowledged
    .map(Number);
  const last = acknowledged.at(-1) ?? 0;
  assert.ok(last >= 300);
  await using db = await openStore({ sqlite: { path } });
  const rows = await db.query<{ seq: number; subject: string }>(
    'SELECT seq, subject FROM audit_events WHERE seq <= $1 ORDER BY seq',
    [last],
  );
  assert.deepEqual(
    rows.map((r) => r.subject),
    acknowledged.map((i) => `s${i}`),
  );
  const verdict = await verifyAuditChain(db);
  assert.ok(verdict.ok && verdict.count >= last, JSON.stringify(verdict));
});

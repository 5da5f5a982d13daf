import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '@parley/core';
import { type ProcessSpec, Supervisor } from './supervisor.js';
import type { ComponentStatus } from './up-state.js';

const FAST = { initialMs: 50, maxMs: 200, resetAfterMs: 60_000 };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Supervisor', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'parley-supervisor-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  const spec = (
    name: string,
    script: string,
    ready = () => Promise.resolve(true),
  ): ProcessSpec => ({
    name,
    command: process.execPath,
    args: ['-e', script],
    env: {},
    log: join(dir, `${name}.log`),
    ready,
    readyTimeoutMs: 3_000,
  });

  it('starts a process, logs its output, restarts it with backoff when it dies, stops it', async () => {
    const changes: ComponentStatus[] = [];
    const s = new Supervisor({
      clock: systemClock,
      onChange: (c) => changes.push(c),
      backoff: FAST,
    });
    const log = join(dir, 'sleeper.log');
    const hellos = async () =>
      ((await readFile(log, 'utf8').catch(() => '')).match(/hello/g) ?? []).length;
    let expected = 1;
    const sleeper = spec(
      'sleeper',
      'console.log("hello"); setInterval(() => {}, 1000)',
      async () => (await hellos()) >= expected,
    );
    const outcome = await s.start(sleeper);
    assert.deepEqual(outcome, { ok: true });
    const first = s.statuses()[0];
    assert.equal(first?.state, 'ready');
    assert.ok(first.pid !== null && alive(first.pid));
    expected = 2;
    process.kill(first.pid, 'SIGKILL');
    await until(() => s.statuses()[0]?.state === 'ready' && s.statuses()[0]?.pid !== first.pid);
    const restarted = s.statuses()[0];
    assert.equal(restarted?.restarts, 1);
    assert.ok(changes.some((c) => c.state === 'restarting' && c.reason === 'killed by SIGKILL'));
    await s.stopAll();
    assert.ok(restarted.pid !== null && !alive(restarted.pid));
    assert.equal(await hellos(), 2);
    assert.match(await readFile(log, 'utf8'), /--- parley up: starting sleeper at /);
  });

  it('reports a process that exits before it is ready as failed, with the reason', async () => {
    const s = new Supervisor({ clock: systemClock, onChange: () => undefined, backoff: FAST });
    const outcome = await s.start(spec('crasher', 'process.exit(3)', () => Promise.resolve(false)));
    assert.deepEqual(outcome, { ok: false, reason: 'exited with code 3 before it was ready' });
    assert.equal(s.statuses()[0]?.state, 'failed');
    await s.stopAll();
  });

  it('stops a process that is never ready after its timeout', async () => {
    const s = new Supervisor({ clock: systemClock, onChange: () => undefined, backoff: FAST });
    const never = {
      ...spec('slow', 'setInterval(() => {}, 1000)', () => Promise.resolve(false)),
      readyTimeoutMs: 300,
    };
    const outcome = await s.start(never);
    assert.deepEqual(outcome, { ok: false, reason: 'not ready within 0 s' });
    const pid = s.statuses()[0]?.pid;
    assert.equal(pid, null);
    await s.stopAll();
  });

  it('stops components in reverse start order', async () => {
    const order: string[] = [];
    const s = new Supervisor({ clock: systemClock, onChange: () => undefined, backoff: FAST });
    // Each takes 200 ms to exit, so the order of exits is visible.
    const script =
      'process.on("SIGTERM", () => setTimeout(() => process.exit(0), 200)); console.log("up"); setInterval(() => {}, 1000)';
    const up = (name: string) => async () =>
      (await readFile(join(dir, `${name}.log`), 'utf8')).includes('\nup');
    await s.start(spec('a', script, up('a')));
    await s.start(spec('b', script, up('b')));
    const pids = s.statuses().map((c) => c.pid ?? 0);
    const watch = pids.map((pid, i) =>
      until(() => !alive(pid), 10_000).then(() => order.push(['a', 'b'][i] ?? '')),
    );
    await s.stopAll();
    await Promise.all(watch);
    assert.deepEqual(order, ['b', 'a']);
  });
});

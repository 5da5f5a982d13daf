import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { fixedClock, systemClock } from './clock.js';
import { type Task, runTasks, sleep } from './task.js';

/** A task that runs until its signal aborts, recording how it ended. */
function untilAborted(log: string[], name: string): Task {
  return async (signal) => {
    try {
      await sleep(60_000, signal);
    } catch (err) {
      log.push(`${name}:${(err as Error).name}`);
      throw err;
    }
  };
}

describe('runTasks', () => {
  it('rethrows the first failure after aborting and awaiting the others', async () => {
    const log: string[] = [];
    const boom = new Error('boom');
    const started = Date.now();
    await assert.rejects(
      runTasks(new AbortController().signal, [
        untilAborted(log, 'a'),
        async () => {
          await sleep(5);
          throw boom;
        },
        untilAborted(log, 'b'),
        async (signal) => {
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
          await sleep(5);
          log.push('c:cleaned-up');
        },
      ]),
      (err) => err === boom,
    );
    assert.deepEqual(log.sort(), ['a:AbortError', 'b:AbortError', 'c:cleaned-up']);
    assert.ok(Date.now() - started < 5_000);
  });

  it('gives the tasks an abort reason that is the failure', async () => {
    const boom = new Error('boom');
    let reason: unknown;
    await assert.rejects(
      runTasks(new AbortController().signal, [
        async (signal) => {
          await sleep(60_000, signal).catch(() => undefined);
          reason = signal.reason;
        },
        async () => {
          throw boom;
        },
      ]),
      (err) => err === boom,
    );
    assert.equal(reason, boom);
  });

  it('keeps the first failure when others fail while stopping', async () => {
    const first = new Error('first');
    const later = new Error('later');
    await assert.rejects(
      runTasks(new AbortController().signal, [
        async (signal) => {
          await sleep(60_000, signal).catch(() => undefined);
          throw later;
        },
        async () => {
          await sleep(1);
          throw first;
        },
      ]),
      (err) => err === first,
    );
  });

  it('stops every task and resolves when the outer signal aborts', async () => {
    const log: string[] = [];
    const outer = new AbortController();
    const done = runTasks(outer.signal, [untilAborted(log, 'a'), untilAborted(log, 'b')]);
    await sleep(5);
    outer.abort(new Error('shutdown'));
    await done;
    assert.deepEqual(log.sort(), ['a:AbortError', 'b:AbortError']);
  });

  it("treats Node's own AbortErrors (timers/promises, fetch) as a clean stop", async () => {
    const outer = new AbortController();
    const done = runTasks(outer.signal, [
      (signal) => setTimeout(60_000, undefined, { signal }),
      async (signal) => {
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
        throw new DOMException('stopped', 'AbortError');
      },
    ]);
    await sleep(5);
    outer.abort();
    await done;
  });

  it('resolves at once when the signal is already aborted', async () => {
    const outer = new AbortController();
    outer.abort();
    const log: string[] = [];
    await runTasks(outer.signal, [untilAborted(log, 'a')]);
    assert.deepEqual(log, ['a:AbortError']);
  });

  it('lets a task return on its own while others keep running', async () => {
    const outer = new AbortController();
    const log: string[] = [];
    const done = runTasks(outer.signal, [
      async () => {
        log.push('short:done');
      },
      untilAborted(log, 'long'),
    ]);
    await sleep(10);
    assert.deepEqual(log, ['short:done']);
    outer.abort();
    await done;
    assert.deepEqual(log, ['short:done', 'long:AbortError']);
  });

  it('resolves when every task returns, and with no tasks', async () => {
    await runTasks(new AbortController().signal, []);
    await runTasks(new AbortController().signal, [async () => {}, async () => sleep(1)]);
  });

  it('reports a failure that is an AbortError raised before any abort', async () => {
    const abortLike = new Error('aborted by a dependency');
    abortLike.name = 'AbortError';
    await assert.rejects(
      runTasks(new AbortController().signal, [
        async () => {
          throw abortLike;
        },
      ]),
      (err) => err === abortLike,
    );
  });

  it('removes its listeners from the outer signal', async () => {
    const outer = new AbortController();
    await runTasks(outer.signal, [async () => {}]);
    await assert.rejects(
      runTasks(outer.signal, [
        async () => {
          throw new Error('x');
        },
      ]),
    );
    await runTasks(outer.signal, [(signal) => sleep(1, signal)]);
    assert.equal(getEventListeners(outer.signal, 'abort').length, 0);
  });
});

describe('sleep', () => {
  it('resolves after the delay', async () => {
    const started = performance.now();
    await sleep(20);
    assert.ok(performance.now() - started >= 15);
    await sleep(1, new AbortController().signal);
  });

  it('rejects with an AbortError when aborted, carrying the reason', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const pending = sleep(60_000, controller.signal);
    controller.abort(reason);
    await assert.rejects(
      pending,
      (err: Error) => err.name === 'AbortError' && err.cause === reason,
    );
  });

  it('rejects at once when the signal is already aborted', async () => {
    const signal = AbortSignal.abort('why');
    await assert.rejects(
      sleep(60_000, signal),
      (err: Error) => err.name === 'AbortError' && err.cause === 'why',
    );
  });
});

describe('clocks', () => {
  it('fixedClock stays at the given instant', () => {
    assert.equal(fixedClock(1234).now(), 1234);
    assert.equal(fixedClock(new Date('2030-01-01T00:00:00Z')).now(), Date.UTC(2030, 0, 1));
    const before = Date.now();
    const now = systemClock.now();
    assert.ok(now >= before && now <= Date.now());
  });
});

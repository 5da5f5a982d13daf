import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixedClock } from '@parley/core';
import type { MeshSnapshot } from '../snapshot/mesh-snapshot.js';
import { type BuildResult, type ConfigFile, MeshController } from './mesh-controller.js';

interface FakeSnapshot extends MeshSnapshot {
  readonly endpoints: ReadonlyMap<string, readonly string[]>;
}

function snapshot(commit: string, endpoints = new Map<string, readonly string[]>()): FakeSnapshot {
  const generation = [...endpoints.values()].flat().length;
  return {
    version: generation === 0 ? commit : `${commit}+${generation}`,
    commit,
    endpoints,
    resourcesFor: () => ({ ok: true, resources: new Map() }),
  };
}

function build(files: readonly ConfigFile[], commit: string): BuildResult {
  const bad = files.find((f) => f.text.includes('bad'));
  return bad === undefined
    ? { ok: true, snapshot: snapshot(commit) }
    : {
        ok: false,
        problems: [{ file: bad.path, line: 3, path: 'spec.port', message: 'bad port' }],
      };
}

function controller() {
  return new MeshController<string>({
    build,
    withEndpoints: (s, updates) => {
      const current = (s as FakeSnapshot).endpoints;
      for (const name of updates.keys())
        if (name === 'ghost') return { ok: false, reason: 'no service ghost' };
      return { ok: true, snapshot: snapshot(s.commit, new Map([...current, ...updates])) };
    },
    clock: fixedClock(1000),
  });
}

const good = [{ path: 'svc.yaml', text: 'kind: Service' }];

describe('MeshController', () => {
  it('swaps in a good commit and notifies subscribers', () => {
    const c = controller();
    let notified = 0;
    c.subscribe(() => notified++);
    assert.equal(c.current(), undefined);
    assert.equal(c.applyCommit({ ok: true, commit: 'a1', files: good }), true);
    assert.equal(c.current()?.version, 'a1');
    assert.equal(notified, 1);
    assert.deepEqual(c.status().current, { version: 'a1', commit: 'a1', appliedAt: 1000 });
  });

  it('keeps the last good snapshot on a bad commit and records its problems', () => {
    const c = controller();
    c.applyCommit({ ok: true, commit: 'a1', files: good });
    let notified = 0;
    c.subscribe(() => notified++);
    const bad = [{ path: 'route.yaml', text: 'bad' }];
    assert.equal(c.applyCommit({ ok: true, commit: 'b2', files: bad }), false);
    assert.equal(c.current()?.commit, 'a1');
    assert.equal(notified, 0);
    assert.deepEqual(c.status().lastRejected, {
      commit: 'b2',
      problems: [{ file: 'route.yaml', line: 3, path: 'spec.port', message: 'bad port' }],
      at: 1000,
    });
  });

  it('records a commit the source refused (too large) without building it', () => {
    const c = controller();
    const problems = [{ file: '', line: 0, path: '', message: 'too many files' }];
    assert.equal(c.applyCommit({ ok: false, commit: 'c3', problems }), false);
    assert.equal(c.current(), undefined);
    assert.deepEqual(c.status().lastRejected?.problems, problems);
  });

  it('refuses a commit whose build throws, as a bad commit', () => {
    const c = new MeshController({
      build: () => {
        throw new Error('boom');
      },
      clock: fixedClock(0),
    });
    assert.equal(c.applyCommit({ ok: true, commit: 'd4', files: good }), false);
    assert.match(c.status().lastRejected?.problems[0]?.message ?? '', /internal error/);
  });

  it('layers registered endpoints over the current and every later snapshot', () => {
    const c = controller();
    assert.equal(c.updateEndpoints('api', ['10.0.0.1:80']).ok, false);
    c.applyCommit({ ok: true, commit: 'a1', files: good });
    let notified = 0;
    c.subscribe(() => notified++);
    const r = c.updateEndpoints('api', ['127.0.0.1:80', '127.0.0.1:81']);
    assert.equal(r.ok, true);
    assert.equal(c.current()?.version, 'a1+2');
    assert.equal(notified, 1);
    assert.deepEqual(c.updateEndpoints('ghost', []), { ok: false, reason: 'no service ghost' });
    c.applyCommit({ ok: true, commit: 'e5', files: good });
    assert.equal(c.current()?.version, 'e5+2');
  });

  it('records source failures until the next commit', () => {
    const c = controller();
    c.sourceFailed('git fetch failed: connection refused');
    assert.deepEqual(c.status().sourceError, {
      message: 'git fetch failed: connection refused',
      at: 1000,
    });
    c.applyCommit({ ok: true, commit: 'a1', files: good });
    assert.equal(c.status().sourceError, null);
  });
});

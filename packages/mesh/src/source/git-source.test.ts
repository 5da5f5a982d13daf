import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { durationMs } from '@parley/core';
import { type TempDir, makeTempDir } from '@parley/testing';
import { type GitCommit, GitSource, isRemoteRepository } from './git-source.js';

function git(dir: string, ...args: string[]): string {
  return execFileSync(
    'git',
    ['-C', dir, '-c', 'user.name=Parley Test', '-c', 'user.email=test@example.org', ...args],
    { encoding: 'utf8' },
  ).trim();
}

async function commit(
  dir: string,
  files: Record<string, string>,
  message: string,
): Promise<string> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

/** Collects what a source hands over and lets a test wait for the next one (bounded). */
function collector() {
  const commits: GitCommit[] = [];
  const errors: string[] = [];
  return {
    commits,
    errors,
    deps: { onCommit: (c: GitCommit) => commits.push(c), onError: (m: string) => errors.push(m) },
    async waitFor(n: number, timeoutMs = 5000): Promise<GitCommit> {
      const deadline = performance.now() + timeoutMs;
      while (commits.length < n) {
        if (performance.now() > deadline)
          assert.fail(`no commit #${n}; errors: ${errors.join('; ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return commits[n - 1] as GitCommit;
    },
  };
}

describe('GitSource', () => {
  let tmp: TempDir;
  let repo: string;

  before(async () => {
    tmp = await makeTempDir('parley-git-source-');
    repo = join(tmp.path, 'config');
    await mkdir(repo);
    git(repo, 'init', '-q', '-b', 'main');
  });

  after(() => tmp.remove());

  it('tells remote URLs from local paths', () => {
    assert.equal(isRemoteRepository('https://git.example.org/mesh.git'), true);
    assert.equal(isRemoteRepository('file:///srv/mesh'), true);
    assert.equal(isRemoteRepository('git@git.example.org:team/mesh.git'), true);
    assert.equal(isRemoteRepository('/srv/mesh'), false);
    assert.equal(isRemoteRepository('./mesh'), false);
  });

  it('refuses bad branch names and option-like repositories', () => {
    const deps = collector().deps;
    const options = { repository: repo, dataDir: tmp.path };
    assert.throws(() => new GitSource({ ...options, branch: '--upload-pack=x' }, deps), /branch/);
    assert.throws(() => new GitSource({ ...options, branch: 'a..b' }, deps), /branch/);
    assert.throws(() => new GitSource({ ...options, repository: '-x', branch: 'main' }, deps));
  });

  it('reads the YAML files of each new commit of a local repository', async () => {
    const first = await commit(
      repo,
      {
        'services/web.yaml': 'kind: Service\n',
        'routes/web.yml': 'kind: Route\n',
        'README.md': '# not config\n',
      },
      'first',
    );
    const c = collector();
    const source = new GitSource(
      { repository: repo, branch: 'main', dataDir: tmp.path, pollInterval: durationMs(20) },
      c.deps,
    );
    const ac = new AbortController();
    const running = source.run(ac.signal);
    try {
      const one = await c.waitFor(1);
      assert.deepEqual(one, {
        ok: true,
        commit: first,
        files: [
          { path: 'routes/web.yml', text: 'kind: Route\n' },
          { path: 'services/web.yaml', text: 'kind: Service\n' },
        ],
      });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(c.commits.length, 1, 'an unchanged branch is not handed over again');
      const second = await commit(repo, { 'services/api.yaml': 'kind: Service # api\n' }, 'second');
      const two = await c.waitFor(2);
      assert.equal(two.commit, second);
      assert.equal(two.ok && two.files.length, 3);
    } finally {
      ac.abort();
      await running;
    }
    assert.deepEqual(c.errors, []);
  });

  it('refuses a commit past its bounds with a clear problem, then reads the next', async () => {
    const c = collector();
    const source = new GitSource(
      {
        repository: repo,
        branch: 'main',
        dataDir: tmp.path,
        limits: { maxFiles: 10, maxFileBytes: 1000, maxTotalBytes: 5000 },
      },
      c.deps,
    );
    const big = await commit(repo, { 'big.yaml': `x: "${'a'.repeat(2000)}"\n` }, 'big');
    await source.poll();
    assert.deepEqual(c.commits[0], {
      ok: false,
      commit: big,
      problems: [
        {
          file: 'big.yaml',
          line: 0,
          path: '',
          message: 'file is 2006 bytes, more than the limit of 1000',
        },
      ],
    });
    const many: Record<string, string> = { 'big.yaml': 'x: 1\n' };
    for (let i = 0; i < 12; i++) many[`many/s${i}.yaml`] = 'kind: Service\n';
    const tooMany = await commit(repo, many, 'many');
    await source.poll();
    assert.equal(c.commits[1]?.commit, tooMany);
    assert.equal(c.commits[1]?.ok, false);
    assert.match(
      (!c.commits[1]?.ok && c.commits[1]?.problems[0]?.message) || '',
      /more than 10 YAML files/,
    );
    git(repo, 'rm', '-q', '-r', 'many');
    git(repo, 'commit', '-q', '-m', 'fewer');
    await source.poll();
    assert.equal(c.commits[2]?.ok, true);
  });

  it('rejects a commit with a file that is not UTF-8', async () => {
    const c = collector();
    const source = new GitSource({ repository: repo, branch: 'main', dataDir: tmp.path }, c.deps);
    await writeFile(join(repo, 'latin1.yaml'), Buffer.from([0x61, 0x3a, 0x20, 0xe9, 0x0a]));
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'latin1');
    await source.poll();
    assert.deepEqual(!c.commits[0]?.ok && c.commits[0]?.problems, [
      { file: 'latin1.yaml', line: 0, path: '', message: 'file is not valid UTF-8' },
    ]);
    git(repo, 'rm', '-q', 'latin1.yaml');
    git(repo, 'commit', '-q', '-m', 'drop latin1');
  });

  it('clones a remote repository bare and fetches new commits', async () => {
    const c = collector();
    const dataDir = join(tmp.path, 'data');
    await mkdir(dataDir);
    const source = new GitSource({ repository: `file://${repo}`, branch: 'main', dataDir }, c.deps);
    await source.poll();
    const head = git(repo, 'rev-parse', 'HEAD');
    assert.equal(c.commits[0]?.commit, head);
    assert.equal(c.commits[0]?.ok, true);
    const next = await commit(repo, { 'services/db.yaml': 'kind: Service # db\n' }, 'db');
    await source.poll();
    assert.equal(c.commits[1]?.commit, next);
    assert.ok(c.commits[1]?.ok && c.commits[1].files.some((f) => f.path === 'services/db.yaml'));
    // A fresh source over the same data dir reuses the clone.
    const again = collector();
    await new GitSource(
      { repository: `file://${repo}`, branch: 'main', dataDir },
      again.deps,
    ).poll();
    assert.equal(again.commits[0]?.commit, next);
  });

  it('reports a missing branch as an error and keeps polling', async () => {
    const c = collector();
    const source = new GitSource(
      { repository: repo, branch: 'nope', dataDir: tmp.path, pollInterval: durationMs(10) },
      c.deps,
    );
    const ac = new AbortController();
    const running = source.run(ac.signal);
    const deadline = performance.now() + 3000;
    while (c.errors.length < 2 && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    await running;
    assert.ok(c.errors.length >= 2);
    assert.equal(c.errors[0], 'branch nope not found');
  });
});

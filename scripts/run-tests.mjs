// Runs every compiled test file (`*.test.js` under packages/*/dist, bench/dist, e2e/dist and
// examples/sock-shop/dist) with node's own test runner; its summary line is what CI reads. Extra
// arguments are passed to `node --test` (e.g. `--test-name-pattern`); a path argument (a source
// file or folder) narrows the run to the tests under it.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const paths = args.filter((a) => !a.startsWith('-')).map((a) => resolve(a));
const flags = args.filter((a) => a.startsWith('-'));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const dists = [
  ...readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p, 'dist')),
  join(root, 'bench', 'dist'),
  join(root, 'e2e', 'dist'),
  join(root, 'examples', 'sock-shop', 'dist'),
].filter((d) => {
  try {
    return statSync(d).isDirectory();
  } catch {
    return false;
  }
});
const files = dists
  .flatMap((d) => walk(d, []))
  .filter((f) => {
    if (paths.length === 0) return true;
    // A path names sources: packages/x/src/… and bench/src/… compile to dist/…, e2e/… to e2e/dist/….
    const sources = [f, f.replace('/dist/', '/src/'), f.replace('/dist/', '/')].flatMap((s) => [
      s,
      s.replace(/\.js$/, '.ts'),
    ]);
    return paths.some((p) => sources.some((s) => s.startsWith(p)));
  })
  .sort();
if (files.length === 0) {
  console.error('run-tests: no compiled test files found; run `npm run build` first');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', '--test-concurrency=2', ...flags, ...files],
  { stdio: 'inherit', cwd: root },
);
process.exit(result.status ?? 1);

import { makeTempDir } from '@parley/testing';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ExecutableHasher } from './executable-hasher.js';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe('ExecutableHasher', () => {
  it('hashes a file once per identity, sharing concurrent reads', async () => {
    const dir = await makeTempDir();
    try {
      const file = join(dir.path, 'app');
      const content = Buffer.alloc(3 * 1024 * 1024 + 17, 7); // several read chunks
      await writeFile(file, content);
      const hasher = new ExecutableHasher({ sizeLimit: 16 * 1024 * 1024 });
      const digests = await Promise.all([1, 2, 3].map(() => hasher.sha256(file)));
      for (const d of digests) assert.deepEqual(d, { ok: true, sha256: sha256(content) });
      assert.deepEqual(await hasher.sha256(file), { ok: true, sha256: sha256(content) });
      assert.deepEqual(hasher.stats, { hashed: 1, cached: 3 });
      // Same size, new content: the file's identity (times) changed, so it is hashed again.
      const changed = Buffer.alloc(content.length, 8);
      await writeFile(file, changed);
      assert.deepEqual(await hasher.sha256(file), { ok: true, sha256: sha256(changed) });
      assert.equal(hasher.stats.hashed, 2);
    } finally {
      await dir.remove();
    }
  });

  it('bounds what it reads and reports what it does not hash', async () => {
    const dir = await makeTempDir();
    try {
      const file = join(dir.path, 'big');
      await writeFile(file, Buffer.alloc(2048));
      const hasher = new ExecutableHasher({ sizeLimit: 1024 });
      const outcome = await hasher.sha256(file);
      assert.equal(outcome.ok, false);
      assert.match(!outcome.ok ? outcome.reason : '', /2048 bytes, over the 1024-byte/);
      const notAFile = await hasher.sha256(dir.path);
      assert.equal(notAFile.ok, false);
      await assert.rejects(hasher.sha256(join(dir.path, 'missing')), { code: 'ENOENT' });
      assert.deepEqual(hasher.stats, { hashed: 0, cached: 0 });
      assert.throws(() => new ExecutableHasher({ sizeLimit: -1 }), RangeError);
    } finally {
      await dir.remove();
    }
  });
});

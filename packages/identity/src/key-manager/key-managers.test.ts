import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeTempDir } from '@parley/testing';
import { DiskKeyManager } from './disk-key-manager.js';
import { KEY_MANAGERS, openKeyManager } from './key-managers.js';
import { MemoryKeyManager } from './memory-key-manager.js';

describe('openKeyManager', () => {
  it('opens each key manager of the table from its config', async () => {
    await using tmp = await makeTempDir();
    assert.deepEqual(Object.keys(KEY_MANAGERS).sort(), ['disk', 'memory']);
    assert.ok((await openKeyManager({ type: 'memory' })) instanceof MemoryKeyManager);
    const disk = await openKeyManager({
      type: 'disk',
      directory: join(tmp.path, 'keys'),
      keyEncryptionKeyFile: join(tmp.path, 'secrets', 'kek'),
    });
    assert.ok(disk instanceof DiskKeyManager);
    await disk.generateKey('k', 'ec-p256');
    assert.equal((await disk.listKeys()).length, 1);
  });
});

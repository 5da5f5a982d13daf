import { makeTempDir } from '@parley/testing';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UnixAccounts, parseIdNames } from './unix-accounts.js';

describe('parseIdNames', () => {
  it('reads passwd and group lines, first name of an id wins', () => {
    const passwd = [
      'root:x:0:0:root:/root:/bin/bash',
      '# a comment',
      '',
      'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
      'toor:x:0:0:second root:/root:/bin/sh',
      'broken:x:notanumber:0::/:/bin/sh',
      'huge:x:99999999999:0::/:/bin/sh',
      '+nisuser::::::',
      ':x:5:5::/:/bin/sh',
      'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
    ].join('\n');
    assert.deepEqual(
      [...parseIdNames(passwd)],
      [
        [0, 'root'],
        [1, 'daemon'],
        [65534, 'nobody'],
      ],
    );
    assert.deepEqual(
      [...parseIdNames('adm:x:4:syslog,alice\nnogroup:x:65534:\n')],
      [
        [4, 'adm'],
        [65534, 'nogroup'],
      ],
    );
  });
});

describe('UnixAccounts', () => {
  it('reads the files once and again when they change', async () => {
    const dir = await makeTempDir();
    try {
      const passwdPath = join(dir.path, 'passwd');
      const groupPath = join(dir.path, 'group');
      await writeFile(passwdPath, 'alice:x:1000:1000::/home/alice:/bin/sh\n');
      const accounts = new UnixAccounts({ passwdPath, groupPath });
      assert.equal(await accounts.userName(1000), 'alice');
      assert.equal(await accounts.userName(1001), undefined);
      assert.equal(await accounts.groupName(1000), undefined, 'no group file, no names');
      await writeFile(
        passwdPath,
        'alice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n',
      );
      await writeFile(groupPath, 'staff:x:1000:\n');
      assert.equal(await accounts.userName(1001), 'bob');
      assert.equal(await accounts.groupName(1000), 'staff');
    } finally {
      await dir.remove();
    }
  });

  it('reads the system files by default', async () => {
    const accounts = new UnixAccounts();
    assert.equal(await accounts.userName(0), 'root');
    assert.equal(await accounts.groupName(0), 'root');
  });
});

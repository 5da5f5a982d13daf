import assert from 'node:assert/strict';
import { type KeyObject, createDecipheriv, createPrivateKey, verify } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Signer, hashOf, isParleyError } from '@parley/core';
import { makeTempDir } from '@parley/testing';
import { DiskKeyManager } from './disk-key-manager.js';

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

async function signs(signer: Signer): Promise<boolean> {
  const data = Buffer.from('parley');
  const signature = await signer.sign(data);
  return verify(hashOf(signer.keyType), data, signer.publicKey, signature);
}

/** Every secret representation of a private key that must never reach the disk in clear. */
function clearForms(privateKey: KeyObject): string[] {
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const jwk = privateKey.export({ format: 'jwk' });
  return [
    privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    der.toString('base64'),
    der.toString('hex'),
    String(jwk.d),
  ];
}

describe('DiskKeyManager', () => {
  it('creates the directory 0700, the key-encryption key and every key file 0600', async () => {
    await using tmp = await makeTempDir();
    const directory = join(tmp.path, 'data', 'keys');
    const km = await DiskKeyManager.open({ directory });
    await km.generateKey('ca-a', 'ec-p256');
    await km.generateKey('ca-b', 'rsa-2048');
    assert.equal(await modeOf(directory), 0o700);
    assert.equal(await modeOf(`${directory}.kek`), 0o600);
    assert.equal((await stat(`${directory}.kek`)).size, 32);
    assert.deepEqual((await readdir(directory)).sort(), ['ca-a.key', 'ca-b.key']);
    for (const name of await readdir(directory))
      assert.equal(await modeOf(join(directory, name)), 0o600);
  });

  it('keeps private keys encrypted at rest', async () => {
    await using tmp = await makeTempDir();
    const km = await DiskKeyManager.open({ directory: join(tmp.path, 'keys') });
    for (const type of ['ec-p256', 'ec-p384', 'rsa-2048'] as const) {
      // A signer does not reveal its private key: sign and compare through a fresh read instead.
      await km.generateKey(`k-${type}`, type);
      const text = await readFile(join(tmp.path, 'keys', `k-${type}.key`), 'utf8');
      const doc = JSON.parse(text) as Record<string, unknown>;
      assert.deepEqual(Object.keys(doc).sort(), [
        'ciphertext',
        'id',
        'keyType',
        'nonce',
        'tag',
        'version',
      ]);
      assert.equal(doc['keyType'], type);
      assert.doesNotMatch(text, /PRIVATE KEY/);
      // Decrypt independently with the key-encryption key to recover the key, then prove that
      // none of its clear forms is in the file.
      const kek = await readFile(join(tmp.path, 'keys.kek'));
      const d = createDecipheriv('aes-256-gcm', kek, Buffer.from(doc['nonce'] as string, 'base64'));
      d.setAAD(Buffer.from(`parley-disk-key-v1\0k-${type}\0${type}`));
      d.setAuthTag(Buffer.from(doc['tag'] as string, 'base64'));
      const der = Buffer.concat([
        d.update(Buffer.from(doc['ciphertext'] as string, 'base64')),
        d.final(),
      ]);
      const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      for (const form of clearForms(privateKey)) assert.ok(!text.includes(form));
    }
  });

  it('reads keys back after a restart, with the same public keys and working signers', async () => {
    await using tmp = await makeTempDir();
    const directory = join(tmp.path, 'keys');
    const first = await DiskKeyManager.open({ directory });
    const a = await first.generateKey('ca-x509-a', 'ec-p384');
    const b = await first.generateKey('ca-jwt-b', 'rsa-2048');
    const second = await DiskKeyManager.open({ directory });
    const a2 = await second.getKey('ca-x509-a');
    const b2 = await second.getKey('ca-jwt-b');
    assert.ok(a2 !== undefined && b2 !== undefined);
    assert.ok(a2.publicKey.equals(a.publicKey));
    assert.ok(b2.publicKey.equals(b.publicKey));
    assert.equal(a2.keyType, 'ec-p384');
    assert.ok(await signs(a2));
    assert.ok(await signs(b2));
    const listed = await second.listKeys();
    assert.deepEqual(
      listed.map((k) => [k.id, k.keyType]),
      [
        ['ca-jwt-b', 'rsa-2048'],
        ['ca-x509-a', 'ec-p384'],
      ],
    );
    assert.ok(listed[1]?.publicKey.equals(a.publicKey));
    assert.equal(await second.getKey('absent'), undefined);
  });

  it('replaces a key on generate and deletes it', async () => {
    await using tmp = await makeTempDir();
    const km = await DiskKeyManager.open({ directory: join(tmp.path, 'keys') });
    const one = await km.generateKey('k', 'ec-p256');
    const two = await km.generateKey('k', 'ec-p256');
    assert.ok(!one.publicKey.equals(two.publicKey));
    assert.ok((await km.getKey('k'))?.publicKey.equals(two.publicKey));
    assert.equal(await km.deleteKey('k'), true);
    assert.equal(await km.deleteKey('k'), false);
    assert.equal(await km.getKey('k'), undefined);
    assert.deepEqual(await km.listKeys(), []);
  });

  it('detects a flipped byte anywhere in the encrypted key with a clear error', async () => {
    await using tmp = await makeTempDir();
    const km = await DiskKeyManager.open({ directory: join(tmp.path, 'keys') });
    await km.generateKey('k', 'ec-p256');
    const path = join(tmp.path, 'keys', 'k.key');
    const doc = JSON.parse(await readFile(path, 'utf8')) as Record<string, string>;
    for (const field of ['ciphertext', 'nonce', 'tag']) {
      const bytes = Buffer.from(doc[field] ?? '', 'base64');
      const at = bytes.length >> 1;
      bytes[at] = (bytes[at] ?? 0) ^ 0x01;
      await writeFile(path, JSON.stringify({ ...doc, [field]: bytes.toString('base64') }), {
        mode: 0o600,
      });
      await assert.rejects(km.getKey('k'), (err: unknown) => {
        assert.ok(isParleyError(err, 'internal'));
        assert.match(err.message, /key file .*k\.key \(key "k"\) failed authentication/);
        return true;
      });
      await assert.rejects(km.listKeys(), /failed authentication/);
    }
    // An edited key type is part of the associated data too.
    await writeFile(path, JSON.stringify({ ...doc, keyType: 'ec-p384' }), { mode: 0o600 });
    await assert.rejects(km.getKey('k'), /failed authentication/);
    await writeFile(path, '{"version":1', { mode: 0o600 });
    await assert.rejects(km.getKey('k'), /is corrupt: not a Parley key file/);
  });

  it('refuses a key file moved under another key id', async () => {
    await using tmp = await makeTempDir();
    const directory = join(tmp.path, 'keys');
    const km = await DiskKeyManager.open({ directory });
    await km.generateKey('active', 'ec-p256');
    await km.generateKey('attacker', 'ec-p256');
    // Swap: the attacker's file takes the active key's name, with its id field rewritten to match.
    const doc = JSON.parse(await readFile(join(directory, 'attacker.key'), 'utf8')) as object;
    await writeFile(join(directory, 'active.key'), JSON.stringify({ ...doc, id: 'active' }), {
      mode: 0o600,
    });
    await assert.rejects(km.getKey('active'), /failed authentication: .*another key id/);
    // A plain rename (id field left alone) is refused before decryption.
    await rename(join(directory, 'attacker.key'), join(directory, 'other.key'));
    await assert.rejects(km.getKey('other'), /is corrupt/);
  });

  it('refuses keys under another key-encryption key', async () => {
    await using tmp = await makeTempDir();
    const directory = join(tmp.path, 'keys');
    const km = await DiskKeyManager.open({ directory });
    await km.generateKey('k', 'ec-p256');
    const other = await DiskKeyManager.open({
      directory,
      keyEncryptionKeyFile: join(tmp.path, 'other.kek'),
    });
    await assert.rejects(other.getKey('k'), /failed authentication/);
  });

  it('reads a configured key-encryption key, raw or base64, and checks its mode and size', async () => {
    await using tmp = await makeTempDir();
    const kekFile = join(tmp.path, 'kek.b64');
    const secret = Buffer.alloc(32, 7);
    await writeFile(kekFile, secret.toString('base64') + '\n', { mode: 0o600 });
    const km = await DiskKeyManager.open({
      directory: join(tmp.path, 'keys'),
      keyEncryptionKeyFile: kekFile,
    });
    await km.generateKey('k', 'ec-p256');
    const rawFile = join(tmp.path, 'kek.raw');
    await writeFile(rawFile, secret, { mode: 0o600 });
    const same = await DiskKeyManager.open({
      directory: join(tmp.path, 'keys'),
      keyEncryptionKeyFile: rawFile,
    });
    assert.ok(await same.getKey('k'));

    await chmod(kekFile, 0o644);
    await assert.rejects(
      DiskKeyManager.open({ directory: join(tmp.path, 'keys'), keyEncryptionKeyFile: kekFile }),
      (err: unknown) => {
        assert.ok(isParleyError(err, 'failed-precondition'));
        assert.match(
          err.message,
          /key-encryption key file .* is accessible by group or others \(mode 0644\)/,
        );
        assert.ok(!err.message.includes(secret.toString('base64')));
        return true;
      },
    );
    const short = join(tmp.path, 'short.kek');
    await writeFile(short, 'c2VjcmV0', { mode: 0o600 });
    await assert.rejects(
      DiskKeyManager.open({ directory: join(tmp.path, 'keys'), keyEncryptionKeyFile: short }),
      (err: unknown) => {
        assert.ok(isParleyError(err));
        assert.match(err.message, /must hold 32 bytes/);
        assert.ok(!err.message.includes('c2VjcmV0'));
        return true;
      },
    );
  });

  it('refuses a key directory open to group or others, and key files that are', async () => {
    await using tmp = await makeTempDir();
    const directory = join(tmp.path, 'keys');
    await mkdir(directory, { mode: 0o755 });
    await chmod(directory, 0o755);
    await assert.rejects(
      DiskKeyManager.open({ directory }),
      /accessible by group or others \(mode 0755\); expected 0700/,
    );
    await chmod(directory, 0o700);
    const km = await DiskKeyManager.open({ directory });
    await km.generateKey('k', 'ec-p256');
    await chmod(join(directory, 'k.key'), 0o640);
    await assert.rejects(km.getKey('k'), /mode 0640\); expected 0600/);
  });

  it('ignores and removes temporary files a crash left behind, keeping the previous key', async () => {
    await using tmp = await makeTempDir();
    const directory = join(tmp.path, 'keys');
    const km = await DiskKeyManager.open({ directory });
    const before = await km.generateKey('k', 'ec-p256');
    // A crash between the write of the temporary file and the rename leaves this behind.
    await writeFile(join(directory, '.k.key.0123456789ab.tmp'), '{"version":1,"id":"k","ke', {
      mode: 0o600,
    });
    assert.deepEqual(
      (await km.listKeys()).map((k) => k.id),
      ['k'],
    );
    assert.ok((await km.getKey('k'))?.publicKey.equals(before.publicKey));
    await DiskKeyManager.open({ directory });
    assert.deepEqual(await readdir(directory), ['k.key']);
  });

  it('rejects key ids that are not safe file names', async () => {
    await using tmp = await makeTempDir();
    const km = await DiskKeyManager.open({ directory: join(tmp.path, 'keys') });
    for (const id of ['', '../escape', 'a/b', '.hidden', '-dash', 'x'.repeat(129), 'sp ace']) {
      await assert.rejects(km.generateKey(id, 'ec-p256'), (err: unknown) =>
        isParleyError(err, 'invalid-argument'),
      );
      await assert.rejects(km.getKey(id), /invalid key id/);
    }
    assert.deepEqual(await readdir(join(tmp.path, 'keys')), []);
  });

  it('never puts key material in its errors', async () => {
    await using tmp = await makeTempDir();
    const directory = join(tmp.path, 'keys');
    const km = await DiskKeyManager.open({ directory });
    await km.generateKey('k', 'ec-p256');
    const kek = await readFile(`${directory}.kek`);
    const file = await readFile(join(directory, 'k.key'), 'utf8');
    const doc = JSON.parse(file) as Record<string, string>;
    await writeFile(
      join(directory, 'k.key'),
      JSON.stringify({ ...doc, tag: Buffer.alloc(16).toString('base64') }),
      {
        mode: 0o600,
      },
    );
    const err = await km.getKey('k').then(
      () => assert.fail('expected an error'),
      (e: unknown) => e as Error,
    );
    const text = `${err.message} ${String(err.stack)} ${String(err.cause)}`;
    for (const secret of [kek.toString('base64'), kek.toString('hex'), doc['ciphertext'] ?? '']) {
      assert.ok(!text.includes(secret));
    }
  });
});

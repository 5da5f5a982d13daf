import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ParleyError } from '@parley/core';
import { type KeyEncryptionKey, Keyring } from '@parley/secrets';
import type { SecretSource, SecretsConfig } from './server-config.js';

const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$/;

/** Reads a value from a file (trailing newline dropped) or an environment variable. */
export async function readSecretSource(
  source: SecretSource,
  env: Readonly<Record<string, string | undefined>>,
  what: string,
): Promise<string> {
  if ('env' in source) {
    const value = env[source.env];
    if (value === undefined || value === '') {
      throw new ParleyError(
        'failed-precondition',
        `${what}: environment variable ${source.env} is not set`,
      );
    }
    return value;
  }
  try {
    return (await readFile(source.file, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw new ParleyError('failed-precondition', `${what}: cannot read ${source.file}`, {
      cause: err,
    });
  }
}

function decodeKey(text: string, what: string): Buffer {
  if (!BASE64_KEY.test(text)) {
    throw new ParleyError('failed-precondition', `${what} must be the base64 of 32 random bytes`);
  }
  return Buffer.from(text, 'base64');
}

/**
 * The key-encryption keys of the secrets module: the configured ones (the first is active), or a
 * key generated on first start in `<dataDir>/secrets/kek-default` (mode 0600).
 */
export async function loadKeyring(
  config: SecretsConfig,
  dataDir: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Keyring> {
  const keys: KeyEncryptionKey[] = [];
  for (const k of config.keys) {
    const what = `secrets key "${k.id}"`;
    keys.push({ id: k.id, key: decodeKey(await readSecretSource(k.source, env, what), what) });
  }
  if (keys.length === 0) {
    const file = join(dataDir, 'secrets', 'kek-default');
    let text: string;
    try {
      text = (await readFile(file, 'utf8')).trim();
    } catch {
      text = randomBytes(32).toString('base64');
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(file, `${text}\n`, { mode: 0o600, flag: 'wx' });
    }
    keys.push({ id: 'default', key: decodeKey(text, `secrets key file ${file}`) });
  }
  return new Keyring(keys);
}

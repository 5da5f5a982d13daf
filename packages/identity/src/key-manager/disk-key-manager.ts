import {
  type KeyObject,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createSecretKey,
  randomBytes,
} from 'node:crypto';
import { chmod, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  KEY_TYPES,
  type KeyType,
  ParleyError,
  type Signer,
  generateKey,
  keyObjectSigner,
  keyTypeOf,
} from '@parley/core';
import { TEMP_SUFFIX, createFileExclusive, syncDirectory, writeFileAtomic } from './atomic-file.js';
import { type KeyInfo, type KeyManager, checkKeyId } from './key-manager.js';

/** Where the disk key manager keeps its keys. */
export interface DiskKeyManagerOptions {
  /** One file per key, each 0600; created 0700 when missing, refused when group/other can enter. */
  readonly directory: string;
  /**
   * The key-encryption key: 32 bytes (raw, or base64 text), mode 0600. Created with random bytes
   * when missing. Defaults to `<directory>.kek`, beside the directory rather than in it, so that
   * it can live on another volume or in a mounted secret.
   */
  readonly keyEncryptionKeyFile?: string;
}

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const KEK_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_SUFFIX = '.key';
/** Key files are small (an RSA-4096 PKCS#8 is ~2.4 KB): anything larger is not one of ours. */
const MAX_KEY_FILE_BYTES = 64 * 1024;
const FORMAT_VERSION = 1;

/** The JSON document of one key file; the private key is only ever in `ciphertext`. */
interface KeyFile {
  readonly version: typeof FORMAT_VERSION;
  readonly id: string;
  readonly keyType: KeyType;
  readonly nonce: string;
  readonly ciphertext: string;
  readonly tag: string;
}

/**
 * The associated data of a key file's AES-256-GCM encryption: the format, the key id and the key
 * type. A file renamed to another key's name, or with its key type edited, fails authentication.
 */
function associatedData(id: string, keyType: KeyType): Buffer {
  return Buffer.from(`parley-disk-key-v${FORMAT_VERSION}\0${id}\0${keyType}`, 'utf8');
}

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

function modeText(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}

/**
 * A key manager that keeps one file per key in a directory, each private key encrypted at rest
 * with AES-256-GCM under a key-encryption key read from a separate file. Files are written
 * atomically (temporary file, fsync, rename, directory fsync), so a crash leaves either the old
 * key or the new one. Error messages name files and key ids, never key material.
 */
export class DiskKeyManager implements KeyManager {
  readonly #directory: string;
  readonly #kek: KeyObject;

  private constructor(directory: string, kek: KeyObject) {
    this.#directory = directory;
    this.#kek = kek;
  }

  /**
   * Opens (creating when missing) the key directory and the key-encryption key file, checks their
   * modes, and removes temporary files a crash left behind.
   */
  static async open(options: DiskKeyManagerOptions): Promise<DiskKeyManager> {
    const directory = resolve(options.directory);
    const kekFile = resolve(options.keyEncryptionKeyFile ?? `${directory}.kek`);
    await openDirectory(directory);
    const kek = await readOrCreateKek(kekFile);
    const manager = new DiskKeyManager(directory, kek);
    await manager.#removeTemporaryFiles();
    return manager;
  }

  /** The directory holding the key files. */
  get directory(): string {
    return this.#directory;
  }

  /** Generates a key of `type`, writes it encrypted under `id` (replacing any), returns its signer. */
  async generateKey(id: string, type: KeyType): Promise<Signer> {
    checkKeyId(id);
    if (!KEY_TYPES.includes(type)) throw new TypeError(`unsupported key type ${String(type)}`);
    const privateKey = generateKey(type);
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    try {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.#kek, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(associatedData(id, type));
      const ciphertext = Buffer.concat([cipher.update(der), cipher.final()]);
      const file: KeyFile = {
        version: FORMAT_VERSION,
        id,
        keyType: type,
        nonce: nonce.toString('base64'),
        ciphertext: ciphertext.toString('base64'),
        tag: cipher.getAuthTag().toString('base64'),
      };
      await writeFileAtomic(this.#pathOf(id), Buffer.from(JSON.stringify(file) + '\n'), FILE_MODE);
    } finally {
      der.fill(0);
    }
    return keyObjectSigner(privateKey, { threadpool: true });
  }

  /** Reads, authenticates and decrypts key `id`; undefined when there is no such key file. */
  async getKey(id: string): Promise<Signer | undefined> {
    checkKeyId(id);
    const key = await this.#read(id);
    return key === undefined ? undefined : keyObjectSigner(key.privateKey, { threadpool: true });
  }

  /** Every key in the directory, each authenticated (a tampered file is an error, not skipped). */
  async listKeys(): Promise<readonly KeyInfo[]> {
    const out: KeyInfo[] = [];
    for (const name of (await readdir(this.#directory)).sort()) {
      if (!name.endsWith(KEY_SUFFIX)) continue;
      const id = name.slice(0, -KEY_SUFFIX.length);
      try {
        checkKeyId(id);
      } catch {
        continue; // not a file this manager wrote
      }
      const key = await this.#read(id);
      if (key !== undefined) out.push({ id, keyType: key.keyType, publicKey: key.publicKey });
    }
    return out;
  }

  /** Deletes the file of key `id`. */
  async deleteKey(id: string): Promise<boolean> {
    checkKeyId(id);
    try {
      await unlink(this.#pathOf(id));
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return false;
      throw error;
    }
    await syncDirectory(this.#directory);
    return true;
  }

  #pathOf(id: string): string {
    return join(this.#directory, id + KEY_SUFFIX);
  }

  async #read(
    id: string,
  ): Promise<{ keyType: KeyType; privateKey: KeyObject; publicKey: KeyObject } | undefined> {
    const path = this.#pathOf(id);
    const fail = (why: string): never => {
      throw new ParleyError('internal', `key file ${path} (key "${id}") ${why}`);
    };
    let bytes: Buffer;
    try {
      const handle = await open(path, 'r');
      try {
        const info = await handle.stat();
        if (!info.isFile()) return fail('is not a regular file');
        if ((info.mode & 0o077) !== 0)
          fail(`is accessible by group or others (mode ${modeText(info.mode)}); expected 0600`);
        if (info.size > MAX_KEY_FILE_BYTES) fail(`is larger than ${MAX_KEY_FILE_BYTES} bytes`);
        bytes = await handle.readFile();
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
    const file = parseKeyFile(bytes, id) ?? fail('is corrupt: not a Parley key file');
    const decipher = createDecipheriv('aes-256-gcm', this.#kek, Buffer.from(file.nonce, 'base64'), {
      authTagLength: TAG_BYTES,
    });
    // The id comes from the file name, not the file: a key file moved under another name fails.
    decipher.setAAD(associatedData(id, file.keyType));
    decipher.setAuthTag(Buffer.from(file.tag, 'base64'));
    let der: Buffer;
    try {
      der = Buffer.concat([
        decipher.update(Buffer.from(file.ciphertext, 'base64')),
        decipher.final(),
      ]);
    } catch {
      return fail(
        'failed authentication: it was altered, belongs to another key id, or was encrypted under another key-encryption key',
      );
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } catch {
      return fail('does not hold a PKCS#8 private key');
    } finally {
      der.fill(0);
    }
    if (keyTypeOf(privateKey) !== file.keyType) fail(`does not hold a ${file.keyType} key`);
    return {
      keyType: file.keyType,
      privateKey,
      publicKey: keyObjectSigner(privateKey, { threadpool: true }).publicKey,
    };
  }

  async #removeTemporaryFiles(): Promise<void> {
    const stale = (await readdir(this.#directory)).filter(
      (n) => n.startsWith('.') && n.endsWith(TEMP_SUFFIX),
    );
    for (const name of stale) await unlink(join(this.#directory, name)).catch(() => {});
    if (stale.length > 0) await syncDirectory(this.#directory);
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Parses a key file's JSON strictly; undefined when it is not exactly a version-1 key file. */
function parseKeyFile(bytes: Buffer, id: string): KeyFile | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const d = doc as Record<string, unknown>;
  const fields = ['version', 'id', 'keyType', 'nonce', 'ciphertext', 'tag'];
  if (Object.keys(d).length !== fields.length || !fields.every((f) => Object.hasOwn(d, f)))
    return undefined;
  const { version, keyType, nonce, ciphertext, tag } = d;
  if (version !== FORMAT_VERSION || d['id'] !== id) return undefined;
  if (typeof keyType !== 'string' || !(KEY_TYPES as readonly string[]).includes(keyType))
    return undefined;
  for (const [v, size] of [
    [nonce, NONCE_BYTES],
    [tag, TAG_BYTES],
    [ciphertext, undefined],
  ] as const) {
    if (typeof v !== 'string' || !BASE64.test(v) || v.length % 4 !== 0) return undefined;
    if (size !== undefined && Buffer.from(v, 'base64').length !== size) return undefined;
  }
  return d as unknown as KeyFile;
}

/** Creates the key directory 0700, or checks that an existing one is closed to group and others. */
async function openDirectory(directory: string): Promise<void> {
  const created = await mkdir(directory, { recursive: true, mode: DIR_MODE });
  if (created !== undefined) {
    await chmod(directory, DIR_MODE);
    return;
  }
  const info = await stat(directory);
  if (!info.isDirectory())
    throw new ParleyError('failed-precondition', `key directory ${directory} is not a directory`);
  if ((info.mode & 0o077) !== 0) {
    throw new ParleyError(
      'failed-precondition',
      `key directory ${directory} is accessible by group or others (mode ${modeText(info.mode)}); expected 0700`,
    );
  }
}

/** Reads the key-encryption key, creating the file with random bytes (0600) when it is missing. */
async function readOrCreateKek(path: string): Promise<KeyObject> {
  try {
    return await readKek(path);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
  await mkdir(dirname(path), { recursive: true, mode: DIR_MODE });
  const fresh = randomBytes(KEK_BYTES);
  try {
    // Another process may create it at the same moment: whichever link lands first wins.
    await createFileExclusive(path, fresh, FILE_MODE);
  } finally {
    fresh.fill(0);
  }
  return readKek(path);
}

async function readKek(path: string): Promise<KeyObject> {
  const fail = (why: string): never => {
    throw new ParleyError('failed-precondition', `key-encryption key file ${path} ${why}`);
  };
  const handle = await open(path, 'r');
  let bytes: Buffer;
  try {
    const info = await handle.stat();
    if (!info.isFile()) return fail('is not a regular file');
    if ((info.mode & 0o077) !== 0)
      fail(`is accessible by group or others (mode ${modeText(info.mode)}); expected 0600`);
    if (info.size > 1024) fail(`must hold ${KEK_BYTES} bytes, raw or base64`);
    bytes = await handle.readFile();
  } finally {
    await handle.close();
  }
  let key: Buffer | undefined;
  if (bytes.length === KEK_BYTES) {
    key = bytes;
  } else {
    const text = bytes.toString('latin1').trim();
    if (BASE64.test(text) && text.length % 4 === 0) {
      const decoded = Buffer.from(text, 'base64');
      if (decoded.length === KEK_BYTES) key = decoded;
      else decoded.fill(0);
    }
    bytes.fill(0);
  }
  if (key === undefined) return fail(`must hold ${KEK_BYTES} bytes, raw or base64`);
  const kek = createSecretKey(key);
  key.fill(0);
  return kek;
}

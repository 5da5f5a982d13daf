import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Marks the temporary files `writeFileAtomic` and `createFileExclusive` leave after a crash. */
export const TEMP_SUFFIX = '.tmp';

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
}

/** Flushes a directory's entries (a rename or unlink in it) to stable storage. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeTemp(path: string, data: Uint8Array, mode: number): Promise<string> {
  const temp = tempPathFor(path);
  const handle = await open(temp, 'wx', mode);
  try {
    // The umask may only clear bits; chmod makes the mode exact.
    await handle.chmod(mode);
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  }
  await handle.close();
  return temp;
}

/**
 * Replaces `path` with `data` so that a crash leaves either the old or the new content, never a
 * mix: the data goes to a temporary file in the same directory, is fsynced, renamed over `path`,
 * and the directory is fsynced.
 */
export async function writeFileAtomic(path: string, data: Uint8Array, mode: number): Promise<void> {
  const temp = await writeTemp(path, data, mode);
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await syncDirectory(dirname(path));
}

/**
 * Creates `path` with `data` only if it does not exist, atomically (a hard link of a complete,
 * fsynced temporary file); resolves false when another writer created it first.
 */
export async function createFileExclusive(
  path: string,
  data: Uint8Array,
  mode: number,
): Promise<boolean> {
  const temp = await writeTemp(path, data, mode);
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => {});
    await syncDirectory(dirname(path));
  }
}

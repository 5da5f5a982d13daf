import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';

/** The SHA-256 of an executable (lowercase hex), or why it was not computed. */
export type ExecutableDigest =
  { readonly ok: true; readonly sha256: string } | { readonly ok: false; readonly reason: string };

/** Options of an ExecutableHasher. */
export interface ExecutableHasherOptions {
  /** Files larger than this many bytes are not hashed (SPIRE's `workload_size_limit`). */
  readonly sizeLimit: number;
  /** How many digests to remember; 1024 by default. */
  readonly cacheEntries?: number;
}

const CHUNK_BYTES = 1 << 20;

/**
 * Hashes executables with a bounded read and remembers each digest by the file's identity
 * (device, inode, size, modification and change time in ns), so a busy agent hashes a binary once.
 * Concurrent requests for the same file share one read.
 */
export class ExecutableHasher {
  /** How many digests were computed and how many were answered from the cache. */
  readonly stats = { hashed: 0, cached: 0 };
  readonly #sizeLimit: number;
  readonly #cacheEntries: number;
  readonly #cache = new Map<string, Promise<ExecutableDigest>>();

  constructor(options: ExecutableHasherOptions) {
    if (!Number.isSafeInteger(options.sizeLimit) || options.sizeLimit < 0) {
      throw new RangeError(`sizeLimit must be a non-negative integer, got ${options.sizeLimit}`);
    }
    this.#sizeLimit = options.sizeLimit;
    this.#cacheEntries = options.cacheEntries ?? 1024;
  }

  /**
   * The digest of the file at `path` (e.g. `/proc/<pid>/exe`, which opens the very inode a process
   * runs even if its path was replaced). Rejects with the I/O error when the file cannot be read.
   */
  async sha256(path: string): Promise<ExecutableDigest> {
    const handle = await open(path, 'r');
    try {
      const s = await handle.stat({ bigint: true });
      if (!s.isFile()) return { ok: false, reason: `${path} is not a regular file` };
      if (s.size > BigInt(this.#sizeLimit)) {
        return {
          ok: false,
          reason: `the executable is ${s.size} bytes, over the ${this.#sizeLimit}-byte workload size limit`,
        };
      }
      const key = `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
      const known = this.#cache.get(key);
      if (known !== undefined) {
        this.stats.cached += 1;
        this.#cache.delete(key); // most recently used last
        this.#cache.set(key, known);
        return await known;
      }
      this.stats.hashed += 1;
      const digest = this.#hash(handle);
      this.#cache.set(key, digest);
      if (this.#cache.size > this.#cacheEntries) {
        const oldest = this.#cache.keys().next();
        if (oldest.done !== true) this.#cache.delete(oldest.value);
      }
      try {
        return await digest;
      } catch (error) {
        this.#cache.delete(key);
        throw error;
      }
    } finally {
      await handle.close();
    }
  }

  async #hash(handle: FileHandle): Promise<ExecutableDigest> {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let total = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, total);
      if (bytesRead === 0) break;
      total += bytesRead;
      // The file grew since it was measured: never read past the limit.
      if (total > this.#sizeLimit) {
        return { ok: false, reason: `the executable grew past the workload size limit` };
      }
      hash.update(buffer.subarray(0, bytesRead));
    }
    return { ok: true, sha256: hash.digest('hex') };
  }
}

import type { KeyObject } from 'node:crypto';
import { type KeyType, type Signer, invalidArgument } from '@parley/core';

/** What a key manager reveals about a key it holds: never the private key itself. */
export interface KeyInfo {
  readonly id: string;
  readonly keyType: KeyType;
  readonly publicKey: KeyObject;
}

/**
 * Where the server's signing keys live (memory, disk, later a KMS): keys are created and used by
 * id and never leave the manager except as a Signer. `generateKey` replaces any key with the same
 * id, as SPIRE's key managers do.
 */
export interface KeyManager {
  generateKey(id: string, type: KeyType): Promise<Signer>;
  getKey(id: string): Promise<Signer | undefined>;
  listKeys(): Promise<readonly KeyInfo[]>;
  /** Deletes the key; resolves false when there was none. */
  deleteKey(id: string): Promise<boolean>;
}

const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Checks a key id: 1–128 characters of `[A-Za-z0-9._-]`, not starting with `.` or `-`, so that it
 * is safe as a file name and as a KMS alias.
 */
export function checkKeyId(id: string): string {
  if (!KEY_ID.test(id)) {
    throw invalidArgument(
      `invalid key id ${JSON.stringify(id.slice(0, 64))}: expected 1-128 characters of [A-Za-z0-9._-] starting with a letter or digit`,
    );
  }
  return id;
}

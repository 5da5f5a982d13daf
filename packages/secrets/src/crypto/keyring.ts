import { ParleyError } from '@parley/core';
import { openValue, sealValue } from './envelope.js';

/** A key-encryption key: an identifier (stored beside every data key it wraps) and 32 bytes. */
export interface KeyEncryptionKey {
  readonly id: string;
  readonly key: Buffer;
}

const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The key-encryption keys of the secrets store: the first one wraps new data keys, the others
 * only unwrap what they wrapped before a rotation (until `rewrap` has moved everything over).
 */
export class Keyring {
  readonly activeId: string;
  readonly #keys: ReadonlyMap<string, Buffer>;

  constructor(keys: readonly KeyEncryptionKey[]) {
    const first = keys[0];
    if (first === undefined) throw new RangeError('a keyring needs at least one key');
    const map = new Map<string, Buffer>();
    for (const k of keys) {
      if (!KEY_ID.test(k.id)) throw new RangeError(`key id "${k.id}" must match ${KEY_ID.source}`);
      if (k.key.length !== 32) throw new RangeError(`key "${k.id}" must have 32 bytes`);
      if (map.has(k.id)) throw new RangeError(`key id "${k.id}" is given twice`);
      map.set(k.id, Buffer.from(k.key));
    }
    this.activeId = first.id;
    this.#keys = map;
  }

  /** Whether a key with this id is configured. */
  has(id: string): boolean {
    return this.#keys.has(id);
  }

  /** The ids of every configured key, the active one first. */
  ids(): string[] {
    return [...this.#keys.keys()];
  }

  /** Wraps a data key under the active key, authenticating `aad`. */
  wrap(dataKey: Buffer, aad: string): { kekId: string; wrapped: Buffer } {
    const key = this.#keys.get(this.activeId) as Buffer;
    return { kekId: this.activeId, wrapped: sealValue(key, dataKey, aad) };
  }

  /** Unwraps a data key wrapped under key `kekId`. */
  unwrap(kekId: string, wrapped: Buffer, aad: string): Buffer {
    const key = this.#keys.get(kekId);
    if (key === undefined) {
      throw new ParleyError(
        'failed-precondition',
        `a data key is wrapped by key-encryption key "${kekId}", which is not configured`,
      );
    }
    return openValue(key, wrapped, aad);
  }
}

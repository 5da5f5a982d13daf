import { type KeyType, type Signer, generateKey, keyObjectSigner } from '@parley/core';
import { type KeyInfo, type KeyManager, checkKeyId } from './key-manager.js';

/** A key manager that holds keys in this process only: they die with it (tests, `parley up`). */
export class MemoryKeyManager implements KeyManager {
  readonly #keys = new Map<string, { keyType: KeyType; signer: Signer }>();

  /** Generates a key of `type` under `id`, replacing any previous one. */
  async generateKey(id: string, type: KeyType): Promise<Signer> {
    checkKeyId(id);
    const signer = keyObjectSigner(generateKey(type), { threadpool: true });
    this.#keys.set(id, { keyType: type, signer });
    return signer;
  }

  /** The signer of key `id`, or undefined. */
  async getKey(id: string): Promise<Signer | undefined> {
    checkKeyId(id);
    return this.#keys.get(id)?.signer;
  }

  /** Every key held, by id. */
  async listKeys(): Promise<readonly KeyInfo[]> {
    return [...this.#keys].map(([id, { keyType, signer }]) => ({
      id,
      keyType,
      publicKey: signer.publicKey,
    }));
  }

  /** Forgets key `id`. */
  async deleteKey(id: string): Promise<boolean> {
    checkKeyId(id);
    return this.#keys.delete(id);
  }
}

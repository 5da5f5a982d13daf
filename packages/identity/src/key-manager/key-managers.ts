import { DiskKeyManager } from './disk-key-manager.js';
import type { KeyManager } from './key-manager.js';
import { MemoryKeyManager } from './memory-key-manager.js';

/** Which key manager the server uses, and its settings (the `key_manager` config section). */
export type KeyManagerConfig =
  | { readonly type: 'memory' }
  | {
      readonly type: 'disk';
      readonly directory: string;
      readonly keyEncryptionKeyFile?: string;
    };

type Opener<T extends KeyManagerConfig['type']> = (
  config: Extract<KeyManagerConfig, { readonly type: T }>,
) => Promise<KeyManager>;

/**
 * The key managers, in an explicit table (STYLE rule 12): a new one (a KMS) is a new row and a
 * new member of KeyManagerConfig, never an import side effect.
 */
export const KEY_MANAGERS: { readonly [T in KeyManagerConfig['type']]: Opener<T> } = {
  memory: async () => new MemoryKeyManager(),
  disk: (config) =>
    DiskKeyManager.open({
      directory: config.directory,
      ...(config.keyEncryptionKeyFile === undefined
        ? {}
        : { keyEncryptionKeyFile: config.keyEncryptionKeyFile }),
    }),
};

/** Opens the key manager `config` names. */
export function openKeyManager(config: KeyManagerConfig): Promise<KeyManager> {
  switch (config.type) {
    case 'memory':
      return KEY_MANAGERS.memory(config);
    case 'disk':
      return KEY_MANAGERS.disk(config);
  }
}

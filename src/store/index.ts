/**
 * Chooses the store backend from the config (PAI_STORE): the embedded local store, or Vault.
 */
import type { Config } from '../config.js';
import { ensurePrivateDir } from './local/files.js';
import { LocalStore } from './local/sqlite-store.js';
import type { SecretStore } from './types.js';

/** Opens the configured store. Throws ConfigError when it cannot start (and says why). */
export async function openStore(config: Config): Promise<SecretStore> {
  if (config.store === 'vault') {
    const { openVaultStore } = await import('./vault/index.js');
    return openVaultStore(config);
  }
  ensurePrivateDir(config.dataDir);
  return LocalStore.open({ dataDir: config.dataDir, masterKeyFile: config.masterKeyFile });
}

/**
 * Chooses the store backend from the config (PAI_STORE): the embedded local store, or Vault.
 */
import type { Config } from '../config.js';
import { ensurePrivateDir } from './local/files.js';
import type { SecretStore } from './types.js';

/** Opens the configured store. Throws ConfigError when it cannot start (and says why). */
export async function openStore(config: Config): Promise<SecretStore> {
  if (config.store === 'vault') {
    const { openVaultStore } = await import('./vault/index.js');
    return openVaultStore(config);
  }
  ensurePrivateDir(config.dataDir);
  // Imported here: a process on Vault never loads SQLite (better-sqlite3's native module).
  const { LocalStore } = await import('./local/sqlite-store.js');
  return LocalStore.open({ dataDir: config.dataDir, masterKeyFile: config.masterKeyFile });
}

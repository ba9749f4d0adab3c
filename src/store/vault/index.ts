/**
 * The Vault KV v2 store (PAI_STORE=vault), loaded on demand by src/store/index.ts.
 * Files: http.ts (node-vault transport, timeouts, retries), auth.ts (token lifecycle),
 * kv.ts (KV v2 paths), codec.ts (value and key-index format), failures.ts (errors),
 * vault-store.ts (the SecretStore).
 */
export { openVaultStore, VaultStore, type VaultStoreOptions } from './vault-store.js';

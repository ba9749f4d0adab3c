/**
 * `pai serve` on the Vault store, against the in-process Vault double: the environment it needs,
 * a Vault store opened beside it (to look at what it stored), and waits on its output and
 * readiness (events, never sleeps).
 */
import type { ExecutionContext } from 'ava';
import { VaultStore } from '../../src/store/vault/index.js';
import type { SecretStore } from '../../src/store/types.js';
import { vaultConfig } from '../vault-double/config.js';
import type { VaultDouble } from '../vault-double/server.js';
import type { ServeHandle } from './process.js';
import type { Expected } from './secrets.js';

/**
 * The Vault policies of one all-in-one `pai serve --role all` (docs/VAULT.md): the admin API needs
 * pai-admin, env rendering and the injector read values through pai-renderer. Not pai-injector: its
 * explicit deny on the admin tokens would win over pai-admin.
 */
export const ALL_IN_ONE_POLICIES = ['pai-admin', 'pai-renderer'] as const;

/** The environment of `pai serve` on the Vault store of `double`, token auth. */
export function vaultServeEnv(double: VaultDouble, token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PAI_STORE: 'vault', VAULT_ADDR: double.addr, VAULT_TOKEN: token, PAI_VAULT_MOUNT: 'pai', ...extra };
}

/** A Vault store on `double` with a fresh token of `policies` (pai-renderer reads values). Close it. */
export function openVaultStore(double: VaultDouble, policies: readonly string[]): Promise<VaultStore> {
  return VaultStore.open(vaultConfig(double, { token: double.createToken({ policies }) }));
}

/** The status of GET /readyz. */
export async function readyz(server: ServeHandle): Promise<number> {
  return (await fetch(new URL('/readyz', server.adminUrl))).status;
}

/** Asserts that `store` lists exactly the secrets of `expected`, each with byte-identical values. */
export async function assertStoreHolds(t: ExecutionContext, store: SecretStore, expected: Expected): Promise<void> {
  t.deepEqual(
    (await store.listSecrets('default')).map((m) => m.name),
    [...expected.keys()].sort(),
    'the store lists exactly the expected secrets',
  );
  const mismatched: string[] = [];
  for (const [name, data] of expected) {
    const read = (await store.readSecret('default', name)).data;
    const same = read.size === data.size && [...data].every(([k, v]) => read.get(k)?.equals(v) === true);
    if (!same) mismatched.push(name);
  }
  t.deepEqual(mismatched, [], `every one of ${expected.size} secrets reads back byte for byte`);
}

/**
 * The store contract against the Vault store: through the test double (with the production mount
 * settings of vault/setup.sh and a token holding the pai-admin and pai-renderer policies, so the
 * contract also proves those policies suffice), and against a real Vault when VAULT_ADDR is set
 * (PAI_VAULT_* and VAULT_TOKEN as for `pai serve`; the token needs pai-admin and pai-renderer, or root).
 */
import test from 'ava';
import { loadConfig } from '../src/config.js';
import { VaultStore } from '../src/store/vault/index.js';
import { storeContract } from './helpers/store-contract.js';
import { vaultConfig } from './vault-double/config.js';
import { startVaultDouble, type VaultDouble } from './vault-double/server.js';

let double: VaultDouble | undefined;

test.before(async () => {
  double = await startVaultDouble({ casRequired: true, maxVersions: 5 });
});

test.after.always(async () => {
  await double?.close();
});

storeContract('vault (double)', () => {
  if (!double) throw new Error('double not started');
  const token = double.createToken({ policies: ['pai-admin', 'pai-renderer'] });
  return VaultStore.open(vaultConfig(double, { token }));
});

const realAddr = process.env['VAULT_ADDR'];
if (realAddr) {
  const cfg = loadConfig({ ...process.env, PAI_STORE: 'vault' }).vault;
  storeContract(`vault (real, ${realAddr})`, () => {
    if (!cfg) throw new Error('no Vault config');
    return VaultStore.open(cfg);
  });
} else {
  test.skip('vault (real): the contract against a real Vault runs when VAULT_ADDR is set', () => undefined);
}

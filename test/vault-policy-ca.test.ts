/**
 * The pai CA in Vault (issue 14), under the policies of vault/: the injector creates it on first use
 * and reads it, the admin reads and rotates it, the renderer can never read its key.
 */
import test from 'ava';
import { SYSTEM_NAMESPACE } from '../src/resources/names.js';
import { openVaultStore } from './helpers/vault-serve.js';
import { type VaultDouble, startVaultDouble } from './vault-double/server.js';

let double: VaultDouble;
test.before(async () => {
  double = await startVaultDouble();
});
test.after.always(async () => {
  await double?.close();
});

test('the CA secret: injector creates and reads it, admin reads it, renderer is denied', async (t) => {
  const injector = await openVaultStore(double, ['pai-injector']);
  const admin = await openVaultStore(double, ['pai-admin']);
  const renderer = await openVaultStore(double, ['pai-renderer']);
  t.teardown(async () => {
    await Promise.all([injector.close(), admin.close(), renderer.close()]);
  });
  const created = await injector.createSecret(SYSTEM_NAMESPACE, 'ca', new Map([['state', Buffer.from('{"k":1}')]]));
  t.is(created.version, 1);
  t.is((await injector.readSecret(SYSTEM_NAMESPACE, 'ca')).data.get('state')?.toString(), '{"k":1}');
  t.is((await admin.readSecret(SYSTEM_NAMESPACE, 'ca')).data.get('state')?.toString(), '{"k":1}');
  const err = await t.throwsAsync(renderer.readSecret(SYSTEM_NAMESPACE, 'ca'));
  t.regex(err?.message ?? '', /denied|permission/i);
  // The injector may not touch any other secret of the namespace, nor write a user's secrets.
  await t.throwsAsync(injector.createSecret(SYSTEM_NAMESPACE, 'other', new Map([['k', Buffer.from('v')]])));
  await t.throwsAsync(injector.createSecret('default', 'evil', new Map([['k', Buffer.from('v')]])));
});

/**
 * The HCL policies in vault/ enforced by the test double, through the Vault store: what each
 * role's token can and cannot do. The admin store runs with pai-admin alone and must still do
 * every admin operation without ever reading a secret's data.
 */
import test, { type ExecutionContext } from 'ava';
import { PaiError } from '../src/errors.js';
import type { SecretStore } from '../src/store/types.js';
import { VaultStore } from '../src/store/vault/index.js';
import { rejectsWith } from './helpers/store-contract.js';
import { vaultConfig } from './vault-double/config.js';
import { startVaultDouble, type VaultDouble } from './vault-double/server.js';

let double: VaultDouble;
const stores: SecretStore[] = [];
const bytes = (s: string): Buffer => Buffer.from(s);

async function storeFor(policies: string[]): Promise<SecretStore> {
  return (await storeWithToken(policies)).store;
}

async function storeWithToken(policies: string[]): Promise<{ store: SecretStore; token: string }> {
  const token = double.createToken({ policies });
  const store = await VaultStore.open(vaultConfig(double, { token }));
  stores.push(store);
  return { store, token };
}

/** Asserts a Vault permission denial, reported as store_unavailable with status 403. */
async function denied(t: ExecutionContext, promise: Promise<unknown>): Promise<void> {
  const err = await t.throwsAsync(promise, { instanceOf: PaiError });
  t.is(err?.code, 'store_unavailable', err?.message);
  t.is(err?.details?.['vaultStatus'], 403);
  t.regex(err?.message ?? '', /permission denied/);
}

let root: SecretStore;

test.before(async () => {
  double = await startVaultDouble({ casRequired: true });
  root = await storeFor(['root']);
  await root.createSecret('default', 'shared', new Map([['token', bytes('s3cr3t')]]));
  await root.putDoc('agents', 'default', 'bot', { spec: { env: [] } });
  await root.putClusterDoc('tokens', 'admin-1', { hash: 'abc' });
});

test.after.always(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await double.close();
});

test('pai-admin: every admin operation works without reading a value', async (t) => {
  const { store: admin, token } = await storeWithToken(['pai-admin']);
  await admin.createSecret(
    'default',
    'adm',
    new Map([
      ['a', bytes('1')],
      ['b', bytes('2')],
    ]),
  );
  await admin.replaceSecret(
    'default',
    'adm',
    new Map([
      ['a', bytes('one')],
      ['b', bytes('two')],
      ['c', bytes('three')],
    ]),
  );
  const patched = await admin.patchSecret('default', 'adm', { set: new Map([['d', bytes('four')]]), remove: ['b'] });
  t.deepEqual(
    patched.keys.map((k) => k.name),
    ['a', 'c', 'd'],
  );
  t.deepEqual((await admin.getSecretMeta('default', 'adm')).keys, [
    { name: 'a', size: 3 },
    { name: 'c', size: 5 },
    { name: 'd', size: 4 },
  ]);
  t.true((await admin.listSecrets('default')).some((m) => m.name === 'adm'));
  await admin.putDoc('providers', 'default', 'gh', { spec: { type: 'github' } });
  t.deepEqual((await admin.getClusterDoc('tokens', 'admin-1')).body, { hash: 'abc' });
  t.true((await admin.listDocs('agents', 'default')).some((d) => d.name === 'bot'));
  await admin.deleteDoc('providers', 'default', 'gh');
  await admin.ping();
  const mine = double.requests.filter((r) => r.token === token);
  t.false(
    mine.some((r) => r.method === 'GET' && r.path.startsWith('pai/data/secrets/')),
    'the admin never reads secret data',
  );
  t.true(
    mine.some((r) => r.method === 'PATCH' && r.path === 'pai/data/secrets/adm'),
    'patch is a KV v2 PATCH',
  );
  // The merge patch removed "b" (null) and kept the others: check through a reader.
  const data = (await root.readSecret('default', 'adm')).data;
  t.deepEqual([...data.keys()].sort(), ['a', 'c', 'd']);
  t.is(data.get('c')?.toString(), 'three');
  await admin.deleteSecret('default', 'adm');
  await rejectsWith(t, root.readSecret('default', 'adm'), 'not_found');
});

test('pai-admin: cannot read a secret value', async (t) => {
  const admin = await storeFor(['pai-admin']);
  await denied(t, admin.readSecret('default', 'shared'));
  const res = await fetch(`${double.addr}/v1/pai/data/secrets/shared`, {
    headers: { 'X-Vault-Token': double.createToken({ policies: ['pai-admin'] }) },
  });
  t.is(res.status, 403);
  t.notRegex(await res.text(), /s3cr3t/);
});

test('pai-injector: reads secrets and resources, writes and lists nothing', async (t) => {
  const injector = await storeFor(['pai-injector']);
  t.is((await injector.readSecret('default', 'shared')).data.get('token')?.toString(), 's3cr3t');
  t.deepEqual((await injector.getDoc('agents', 'default', 'bot')).body, { spec: { env: [] } });
  await denied(t, injector.createSecret('default', 'evil', new Map([['k', bytes('v')]])));
  await denied(t, injector.replaceSecret('default', 'shared', new Map([['k', bytes('v')]])));
  await denied(t, injector.patchSecret('default', 'shared', { set: new Map([['k', bytes('v')]]), remove: [] }));
  await denied(t, injector.listSecrets('default'));
  await denied(t, injector.getSecretMeta('default', 'shared'));
  await denied(t, injector.deleteSecret('default', 'shared'));
  await denied(t, injector.putDoc('agents', 'default', 'bot', { spec: {} }));
  await denied(t, injector.listDocs('agents', 'default'));
  await denied(t, injector.getClusterDoc('tokens', 'admin-1'));
  t.is((await root.readSecret('default', 'shared')).data.get('token')?.toString(), 's3cr3t', 'nothing changed');
});

test('pai-injector: reads agent tokens, writes none; writes its usage counts, reads and lists none', async (t) => {
  const written = await root.putClusterDoc('agenttokens', 'tagent1', { hash: 'def', role: 'agent' });
  const injector = await storeFor(['pai-injector']);
  t.deepEqual((await injector.getClusterDoc('agenttokens', 'tagent1')).body, { hash: 'def', role: 'agent' });
  // Last use goes to the usage counts: a token record (its hash, its expiry) is never the injector's to write.
  await denied(
    t,
    injector.putClusterDoc(
      'agenttokens',
      'tagent1',
      { hash: 'def', role: 'agent', lastUsedAt: 'now' },
      { ifVersion: written.version },
    ),
  );
  t.is((await root.getClusterDoc('agenttokens', 'tagent1')).body['lastUsedAt'], undefined);
  await denied(t, injector.putClusterDoc('agenttokens', 'tminted', { hash: 'x', role: 'agent' }));
  await denied(t, injector.listClusterDocs('agenttokens'));
  // Usage documents: create and update in any namespace, by check-and-set; never read back, never listed.
  const first = await injector.putDoc('usage', 'default', 'u-20261205-a', { counts: {} }, { ifVersion: 0, blind: true });
  await injector.putDoc('usage', 'default', 'u-20261205-a', { counts: { x: 1 } }, { ifVersion: first.version, blind: true });
  await injector.putDoc('usage', 'team-a', 'u-20261205-a', { counts: {} }, { ifVersion: 0, blind: true });
  t.deepEqual((await root.getDoc('usage', 'default', 'u-20261205-a')).body, { counts: { x: 1 } });
  await denied(t, injector.getDoc('usage', 'default', 'u-20261205-a'));
  await denied(t, injector.listDocs('usage', 'default'));
  await denied(t, injector.deleteDoc('usage', 'default', 'u-20261205-a'));
  await denied(t, injector.putDoc('agents', 'default', 'evil', { spec: {} }));
});

test('pai-renderer: reads secret values and documents, nothing else', async (t) => {
  const renderer = await storeFor(['pai-renderer']);
  t.is((await renderer.readSecret('default', 'shared')).data.get('token')?.toString(), 's3cr3t');
  t.deepEqual((await renderer.getDoc('agents', 'default', 'bot')).body, { spec: { env: [] } });
  await denied(t, renderer.createSecret('default', 'evil', new Map([['k', bytes('v')]])));
  await denied(t, renderer.getSecretMeta('default', 'shared'));
  await denied(t, renderer.listSecrets('default'));
  await denied(t, renderer.putDoc('agents', 'default', 'bot', { spec: {} }));
  await denied(t, renderer.deleteDoc('agents', 'default', 'bot'));
});

test('no pai role reaches outside the mount', async (t) => {
  for (const policy of ['pai-admin', 'pai-injector', 'pai-renderer']) {
    const token = double.createToken({ policies: [policy] });
    for (const [method, path] of [
      ['GET', 'sys/policy/pai-admin'],
      ['POST', 'sys/policy/x'],
      ['GET', 'secret/data/other'],
      ['POST', 'auth/token/create'],
    ] as const) {
      const res = await fetch(`${double.addr}/v1/${path}`, { method, headers: { 'X-Vault-Token': token } });
      t.is(res.status, 403, `${policy} ${method} ${path}`);
    }
  }
});

/**
 * The Vault store's token: renewal before expiry, one re-login on 403, approle and kubernetes
 * logins from files, a given VAULT_TOKEN, and namespaces. The store and the double share a fake
 * clock, so TTLs pass when the test advances it.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { ConfigError, type VaultConfig } from '../src/config.js';
import { PaiError } from '../src/errors.js';
import type { SecretStore } from '../src/store/types.js';
import { VaultStore } from '../src/store/vault/index.js';
import { fakeClock, type FakeClock, vaultConfig } from './vault-double/config.js';
import { startVaultDouble, type VaultDouble } from './vault-double/server.js';

const doubles: VaultDouble[] = [];
const stores: SecretStore[] = [];
let dir = '';

test.before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pai-vault-auth-'));
});

test.after.always(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await Promise.all(doubles.map((d) => d.close()));
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function setup(): Promise<{ d: VaultDouble; clock: FakeClock }> {
  const clock = fakeClock();
  const d = await startVaultDouble({ now: clock.now });
  doubles.push(d);
  return { d, clock };
}

async function writeFile(name: string, content: string): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, `${content}\n`, { mode: 0o600 });
  return file;
}

async function open(cfg: VaultConfig, clock: FakeClock): Promise<VaultStore> {
  const store = await VaultStore.open(cfg, { now: clock.now });
  stores.push(store);
  return store;
}

const one = new Map([['k', Buffer.from('v')]]);
const count = (d: VaultDouble, p: string): number => d.requestsTo(p).length;

async function approleStore(d: VaultDouble, clock: FakeClock, id: string): Promise<VaultStore> {
  d.addAppRole(id, `${id}-secret`, { policies: ['pai-admin', 'pai-renderer'] });
  const file = await writeFile(`${id}.secret-id`, `${id}-secret`);
  const cfg = vaultConfig(d, { auth: 'approle', token: undefined, approleRoleId: id, approleSecretIdFile: file });
  return open(cfg, clock);
}

test('approle: renews at two thirds of the TTL, logs in again after a 403', async (t) => {
  const { d, clock } = await setup();
  d.setLoginTtl(60);
  const store = await approleStore(d, clock, 'role-a');
  await store.createSecret('default', 's', one);
  t.is(count(d, 'auth/approle/login'), 1);
  clock.advance(30_000);
  await store.getSecretMeta('default', 's');
  t.is(count(d, 'auth/token/renew-self'), 0, 'no renewal before two thirds of the TTL');
  clock.advance(15_000);
  await store.getSecretMeta('default', 's');
  t.is(count(d, 'auth/token/renew-self'), 1, 'renewed before expiry');
  clock.advance(50_000);
  await store.getSecretMeta('default', 's');
  t.is(count(d, 'auth/approle/login'), 1, 'the renewal kept the token alive past its first TTL');
  d.expireTokens();
  t.is((await store.readSecret('default', 's')).data.get('k')?.toString(), 'v');
  t.is(count(d, 'auth/approle/login'), 2, 'one re-login after the 403');
});

test('approle: near the max TTL the store logs in again instead of renewing', async (t) => {
  const { d, clock } = await setup();
  d.setLoginTtl(60, 90);
  const store = await approleStore(d, clock, 'role-b');
  await store.createSecret('default', 's', one);
  for (let i = 0; i < 12; i++) {
    clock.advance(10_000);
    await store.getSecretMeta('default', 's');
  }
  t.true(count(d, 'auth/approle/login') >= 2, 'logged in again before the max TTL ran out');
  t.deepEqual(
    d.requests.filter((r) => r.status === 403),
    [],
    'never used an expired token',
  );
});

test('a 403 that persists after the re-login is reported as a policy denial', async (t) => {
  const { d, clock } = await setup();
  d.addAppRole('reader', 'reader-secret', { policies: ['pai-injector'] });
  const file = await writeFile('reader.secret-id', 'reader-secret');
  const store = await open(
    vaultConfig(d, { auth: 'approle', token: undefined, approleRoleId: 'reader', approleSecretIdFile: file }),
    clock,
  );
  const err = await t.throwsAsync(store.listSecrets('default'), { instanceOf: PaiError });
  t.is(err?.code, 'store_unavailable');
  t.regex(err?.message ?? '', /permission denied by the policies/);
  t.is(count(d, 'auth/approle/login'), 2, 'exactly one re-login');
});

test('kubernetes: logs in with the role and the service account token file', async (t) => {
  const { d, clock } = await setup();
  d.addKubernetesRole('pai-injector', 'jwt-of-the-pod', { policies: ['pai-injector'] });
  const seed = await VaultStore.open(vaultConfig(d), { now: clock.now });
  stores.push(seed);
  await seed.createSecret('default', 's', one);
  const jwt = await writeFile('sa-token', 'jwt-of-the-pod');
  const store = await open(
    vaultConfig(d, { auth: 'kubernetes', token: undefined, role: 'pai-injector', kubernetesJwtPath: jwt }),
    clock,
  );
  t.is((await store.readSecret('default', 's')).data.get('k')?.toString(), 'v');
  t.is(count(d, 'auth/kubernetes/login'), 1);
  const bad = await writeFile('sa-token-bad', 'another-jwt');
  const rejected = await t.throwsAsync(
    VaultStore.open(vaultConfig(d, { auth: 'kubernetes', token: undefined, role: 'pai-injector', kubernetesJwtPath: bad })),
    { instanceOf: ConfigError },
  );
  t.is(rejected?.variable, 'PAI_VAULT_ROLE');
  const missing = await t.throwsAsync(
    VaultStore.open(
      vaultConfig(d, { auth: 'kubernetes', token: undefined, role: 'pai-injector', kubernetesJwtPath: path.join(dir, 'none') }),
    ),
    { instanceOf: ConfigError },
  );
  t.is(missing?.variable, 'PAI_VAULT_K8S_TOKEN_PATH');
});

test('VAULT_TOKEN: renewed when renewable; an expired token is reported as such', async (t) => {
  const { d, clock } = await setup();
  const token = d.createToken({ policies: ['pai-admin'], ttlSeconds: 60, renewable: true });
  const store = await open(vaultConfig(d, { token }), clock);
  await store.createSecret('default', 's', one);
  clock.advance(45_000);
  await store.getSecretMeta('default', 's');
  t.is(count(d, 'auth/token/renew-self'), 1);
  d.expireTokens();
  const err = await t.throwsAsync(store.getSecretMeta('default', 's'), { instanceOf: PaiError });
  t.is(err?.code, 'store_unavailable');
  t.regex(err?.message ?? '', /check VAULT_TOKEN/);
  const rejected = await t.throwsAsync(VaultStore.open(vaultConfig(d, { token: 'hvs.not-a-token' })), {
    instanceOf: ConfigError,
  });
  t.is(rejected?.variable, 'VAULT_TOKEN');
});

test('namespaces: the header goes on every request and scopes mounts and tokens', async (t) => {
  const { d, clock } = await setup();
  d.mountKv('pai', { namespace: 'team-a', casRequired: true });
  const token = d.createToken({ policies: ['pai-admin', 'pai-renderer'], namespace: 'team-a' });
  const store = await open(vaultConfig(d, { token, namespace: 'team-a' }), clock);
  await store.createSecret('default', 'ns-secret', one);
  t.is((await store.readSecret('default', 'ns-secret')).data.get('k')?.toString(), 'v');
  const mine = d.requests.filter((r) => r.token === token);
  t.true(mine.length > 0 && mine.every((r) => r.namespace === 'team-a/'));
  const rootStore = await open(vaultConfig(d), clock);
  const err = await t.throwsAsync(rootStore.getSecretMeta('default', 'ns-secret'), { instanceOf: PaiError });
  t.is(err?.code, 'not_found', 'the root namespace has its own mount');
  const wrongNs = await t.throwsAsync(VaultStore.open(vaultConfig(d, { token })), { instanceOf: ConfigError });
  t.is(wrongNs?.variable, 'VAULT_TOKEN', 'a team-a token is unknown outside team-a');
});

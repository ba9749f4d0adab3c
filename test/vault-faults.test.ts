/**
 * The Vault store when Vault misbehaves (sealed, failing, hanging, unreachable, racing writers)
 * and when names try to leave the mount. Each test gets its own double, because fault knobs are
 * per server; the timing-sensitive ones run serially.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { errorBody, PaiError } from '../src/errors.js';
import type { SecretStore } from '../src/store/types.js';
import { VaultStore } from '../src/store/vault/index.js';
import { makeCanary } from './helpers/canary.js';
import { rejectsWith } from './helpers/store-contract.js';
import { vaultConfig } from './vault-double/config.js';
import { startVaultDouble, type VaultDouble, type VaultDoubleOptions } from './vault-double/server.js';
import type { VaultConfig } from '../src/config.js';

const doubles: VaultDouble[] = [];
const stores: SecretStore[] = [];

test.after.always(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await Promise.all(doubles.map((d) => d.close()));
});

async function fresh(options: VaultDoubleOptions = {}): Promise<VaultDouble> {
  const d = await startVaultDouble({ casRequired: true, ...options });
  doubles.push(d);
  return d;
}

async function open(d: VaultDouble, overrides: Partial<VaultConfig> = {}): Promise<VaultStore> {
  const token = d.createToken({ policies: ['pai-admin', 'pai-renderer'] });
  const store = await VaultStore.open(vaultConfig(d, { token, ...overrides }));
  stores.push(store);
  return store;
}

async function failure(t: ExecutionContext, promise: Promise<unknown>): Promise<PaiError> {
  const err = await t.throwsAsync(promise, { instanceOf: PaiError });
  if (!err) throw new Error('expected a PaiError');
  return err;
}

const one = (v = 'v'): Map<string, Buffer> => new Map([['k', Buffer.from(v)]]);

test.serial('sealed Vault: store_unavailable within the budget, then recovery on unseal', async (t) => {
  const d = await fresh();
  await (await open(d)).createSecret('default', 's', one());
  const store = await open(d, { requestTimeoutMs: 300, retryBudgetMs: 600 });
  d.seal();
  const started = performance.now();
  const err = await failure(t, store.getSecretMeta('default', 's'));
  t.is(err.code, 'store_unavailable');
  t.is(err.status, 503);
  t.regex(err.message, /Vault is sealed/);
  t.true(performance.now() - started < 600 + 500, 'within the budget');
  t.true(d.requestsTo('pai/metadata/secrets/s').length >= 3, '503 is retried');
  d.unseal();
  t.is((await store.getSecretMeta('default', 's')).version, 1);
});

test.serial('a store opens while Vault is sealed and works once it is unsealed', async (t) => {
  const d = await fresh();
  d.seal();
  const store = await open(d, { requestTimeoutMs: 300, retryBudgetMs: 600 });
  t.is((await failure(t, store.ping())).code, 'store_unavailable');
  d.unseal();
  await t.notThrowsAsync(store.ping());
});

test('500 then 200 is retried; so is 429', async (t) => {
  const d = await fresh();
  const store = await open(d);
  d.failNext(2, 500);
  await store.createSecret('default', 'flaky', one());
  t.is(d.requestsTo('pai/data/secrets/flaky').filter((r) => r.method === 'POST').length, 3);
  d.failNext(1, 429);
  t.is((await store.readSecret('default', 'flaky')).data.get('k')?.toString(), 'v');
});

test('4xx is never retried', async (t) => {
  const d = await fresh();
  const store = await open(d);
  await store.createSecret('default', 'once', one());
  const before = d.requestsTo('pai/metadata/secrets/once').length;
  d.failNext(1, 400, ['bad request']);
  const err = await failure(t, store.getSecretMeta('default', 'once'));
  t.is(err.code, 'internal');
  t.is(d.requestsTo('pai/metadata/secrets/once').length, before + 1);
});

test.serial('a hanging Vault fails with store_unavailable within the budget', async (t) => {
  const d = await fresh();
  await (await open(d)).createSecret('default', 'slow', one());
  const store = await open(d, { requestTimeoutMs: 150, retryBudgetMs: 500 });
  d.hang();
  const started = performance.now();
  const err = await failure(t, store.getSecretMeta('default', 'slow'));
  const elapsed = performance.now() - started;
  d.release();
  t.is(err.code, 'store_unavailable');
  t.regex(err.message, /did not answer in time/);
  t.true(elapsed >= 150 && elapsed < 500 + 500, `took ${Math.round(elapsed)} ms`);
  t.true(d.requestsTo('pai/metadata/secrets/slow').length >= 3, 'a timed-out attempt is retried');
});

test.serial('a write whose answer never comes is not repeated: its outcome is reported unknown', async (t) => {
  const d = await fresh();
  const store = await open(d, { requestTimeoutMs: 150, retryBudgetMs: 2000 });
  d.hang(1);
  const err = await failure(t, store.createSecret('default', 'maybe', one()));
  d.release();
  t.is(err.code, 'store_unavailable');
  t.regex(err.message, /may or may not have been applied/);
  t.is(d.requestsTo('pai/data/secrets/maybe').length, 1, 'sent once');
  const reads = await failure(t, store.getSecretMeta('default', 'never'));
  t.is(reads.code, 'not_found', 'the store works on');
});

test.serial('an unreachable Vault is store_unavailable', async (t) => {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const d = await fresh();
  const store = await VaultStore.open(vaultConfig(d, { addr: `http://127.0.0.1:${port}`, retryBudgetMs: 300 }));
  stores.push(store);
  const err = await failure(t, store.listSecrets('default'));
  t.is(err.code, 'store_unavailable');
  t.regex(err.message, /unreachable \(ECONNREFUSED\)/);
});

test("Vault's error bodies never reach pai's errors", async (t) => {
  const d = await fresh();
  await (await open(d)).createSecret('default', 'quiet', one());
  const store = await open(d, { retryBudgetMs: 300 });
  const canary = makeCanary('vault-body');
  for (const status of [400, 403, 404, 409, 500, 503]) {
    d.failNext(100, status, [canary]);
    const err = await failure(t, store.getSecretMeta('default', 'quiet'));
    d.clearFaults();
    t.false(JSON.stringify(errorBody(err)).includes(canary), `status ${status}`);
    t.false(err.message.includes(canary), `status ${status}`);
  }
});

test('two concurrent replaces of one secret: one wins, the other gets 409', async (t) => {
  const d = await fresh();
  const [a, b] = [await open(d), await open(d)];
  await a.createSecret('default', 'hot', one('v0'));
  const results = await Promise.allSettled([
    a.replaceSecret('default', 'hot', one('from-a')),
    b.replaceSecret('default', 'hot', one('from-b')),
  ]);
  const won = results.findIndex((r) => r.status === 'fulfilled');
  t.not(won, -1);
  const lost = results[1 - won];
  if (lost?.status !== 'rejected') return t.fail('both replaces succeeded: one overwrote the other');
  const err = lost.reason as PaiError;
  t.is(err.code, 'conflict');
  t.is(err.status, 409);
  t.is((await a.readSecret('default', 'hot')).data.get('k')?.toString(), won === 0 ? 'from-a' : 'from-b');
  t.is((await a.getSecretMeta('default', 'hot')).version, 2);
});

test('a create-only document put racing a create of the same document: 409, never an overwrite', async (t) => {
  const d = await fresh();
  const [a, b] = [await open(d), await open(d)];
  // a reads the document (absent); b creates it before a's next call (the metadata read that
  // finds the version a write must name).
  const isMetaRead = (name: string) => (r: { method: string; path: string }) =>
    r.method === 'GET' && r.path === `pai/metadata/resources/agents/${name}`;
  d.interceptNext(isMetaRead('racy'), () => b.putDoc('agents', 'default', 'racy', { from: 'b' }, { ifVersion: 0 }));
  await rejectsWith(t, a.putDoc('agents', 'default', 'racy', { from: 'a' }, { ifVersion: 0 }), 'conflict');
  const stored = await a.getDoc('agents', 'default', 'racy');
  t.deepEqual(stored.body, { from: 'b' });
  t.is(stored.version, 1);
  // Without ifVersion the put is last-writer-wins: it reads again and writes over b's version.
  d.interceptNext(isMetaRead('open'), () => b.putDoc('agents', 'default', 'open', { from: 'b' }, { ifVersion: 0 }));
  const written = await a.putDoc('agents', 'default', 'open', { from: 'a' });
  t.is(written.version, 2);
  t.deepEqual((await b.getDoc('agents', 'default', 'open')).body, { from: 'a' });
});

test('names that would leave the mount are rejected before any Vault call', async (t) => {
  const d = await fresh();
  const store = await open(d);
  const before = d.requests.length;
  for (const name of ['../../sys/policy/x', 'a/../../b', 'x?list=true', '%2e%2e', '..', 'a b', 'secrets/x', 'ok\n']) {
    await rejectsWith(t, store.createSecret('default', name, one()), 'invalid');
    await rejectsWith(t, store.replaceSecret('default', name, one()), 'invalid');
    await rejectsWith(t, store.patchSecret('default', name, { set: one(), remove: [] }), 'invalid');
    await rejectsWith(t, store.getSecretMeta('default', name), 'invalid');
    await rejectsWith(t, store.readSecret('default', name), 'invalid');
    await rejectsWith(t, store.deleteSecret('default', name), 'invalid');
    await rejectsWith(t, store.putDoc('agents', 'default', name, {}), 'invalid');
    await rejectsWith(t, store.getDoc('agents', 'default', name), 'invalid');
    await rejectsWith(t, store.deleteDoc('agents', 'default', name), 'invalid');
  }
  t.is(d.requests.length, before, 'the double saw no request');
});

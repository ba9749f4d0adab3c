/**
 * The injector on the Vault store when Vault misbehaves, through the Vault double's own fault
 * knobs (test/vault-double: failNext, hang, seal) rather than a wrapper: a warm injector keeps
 * serving its cached values, a cold one denies 503 within its store timeout (Vault's retries run on
 * behind it, bounded by their budget), transient 5xx are retried away, and nothing reaches the
 * upstream without its credential. The injector reads with the pai-injector policy (vault/).
 */
import { randomUUID } from 'node:crypto';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { ChangeFeed } from '../src/changes.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { InjectorServer } from '../src/injector/server.js';
import { VaultStore } from '../src/store/vault/index.js';
import { makeCanary } from './helpers/canary.js';
import { ExtAuthzFilter } from './helpers/ext-authz-filter.js';
import { type LoadTally, newTally, quantile, sendAndClassify } from './helpers/fuzz-fault.js';
import { authClient, resource } from './helpers/injector.js';
import { tempDir } from './helpers/process.js';
import { type Sidecar, type UpstreamRecorder, startSidecar, startUpstream } from './helpers/sidecar-sim.js';
import { vaultConfig } from './vault-double/config.js';
import { type VaultDouble, startVaultDouble } from './vault-double/server.js';

const HOSTS = { warm: 'warm.vault.example', cold: 'cold.vault.example' };
const STORE_TIMEOUT_MS = 150;

interface Ctx {
  vault: VaultDouble;
  upstream: UpstreamRecorder;
  tokens: { warm: string; cold: string };
  closers: (() => Promise<void>)[];
}
const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const vault = await startVaultDouble({ casRequired: true });
  const upstream = await startUpstream();
  const closers: (() => Promise<void>)[] = [() => upstream.close(), () => vault.close()];
  t.context = { vault, upstream, tokens: { warm: makeCanary('warm'), cold: makeCanary('cold') }, closers };
  const admin = await VaultStore.open(vaultConfig(vault, { token: vault.createToken({ policies: ['pai-admin'] }) }));
  closers.unshift(() => admin.close());
  await admin.createSecret('default', 'warm-key', new Map([['token', Buffer.from(t.context.tokens.warm)]]));
  await admin.createSecret('default', 'cold-key', new Map([['token', Buffer.from(t.context.tokens.cold)]]));
  const put = async (doc: Record<string, unknown>, plural: 'providers' | 'agents'): Promise<void> => {
    await admin.putDoc(plural, 'default', (doc['metadata'] as { name: string }).name, doc);
  };
  await put(
    resource('Provider', 'warm-api', { type: 'http', hosts: [HOSTS.warm], auth: { secretRef: 'warm-key' } }),
    'providers',
  );
  await put(
    resource('Provider', 'cold-api', { type: 'http', hosts: [HOSTS.cold], auth: { secretRef: 'cold-key' } }),
    'providers',
  );
  await put(resource('Agent', 'bot', { providers: ['warm-api', 'cold-api'] }), 'agents');
});

test.after.always(async (t) => {
  for (const close of t.context.closers ?? []) await close();
});

/** A fresh injector (cold caches) on Vault with the pai-injector policy, and a sidecar in front of it. */
async function rig(t: ExecutionContext<Ctx>): Promise<Sidecar> {
  const { vault, upstream } = t.context;
  const dir = tempDir('pai-fault-vault-');
  const store = await VaultStore.open(
    vaultConfig(vault, { token: vault.createToken({ policies: ['pai-injector'] }), requestTimeoutMs: 500, retryBudgetMs: 1500 }),
  );
  const config = loadConfig({ HOME: dir, PAI_DATA_DIR: dir, PAI_INJECTOR_LISTEN: `unix:${dir}/injector.sock` });
  const server = new InjectorServer({
    config,
    store,
    changes: new ChangeFeed(),
    metrics: createMetrics(),
    logger: silentLogger(),
    storeTimeoutMs: STORE_TIMEOUT_MS,
  });
  const client = authClient(await server.listen());
  const filter = new ExtAuthzFilter({ client, contextExtensions: { 'pai.agent': 'bot' }, statusOnError: 503, timeoutMs: 5000 });
  const sidecar = await startSidecar({ filter, upstreamPort: upstream.port });
  t.context.closers.unshift(
    () => sidecar.close(),
    async () => {
      client.close();
      await server.close(500);
      await store.close();
    },
  );
  return sidecar;
}

async function send(t: ExecutionContext<Ctx>, sidecar: Sidecar, which: 'warm' | 'cold', tally: LoadTally): Promise<void> {
  const token = t.context.tokens[which];
  await sendAndClassify(
    sidecar.port,
    t.context.upstream,
    HOSTS[which],
    randomUUID(),
    (a) => a.length === 1 && a[0] === `Bearer ${token}`,
    tally,
    Object.values(t.context.tokens),
  );
}

test.serial('sealed Vault: cached credentials keep flowing, a cold secret is denied 503 fast, unseal recovers', async (t) => {
  const { vault } = t.context;
  const sidecar = await rig(t);
  const warm = newTally();
  await send(t, sidecar, 'warm', warm);
  t.is(warm.injected, 1);
  vault.seal();
  try {
    for (let i = 0; i < 10; i++) await send(t, sidecar, 'warm', warm);
    const cold = newTally();
    for (let i = 0; i < 5; i++) await send(t, sidecar, 'cold', cold);
    t.is(warm.injected, 11, 'the warm secret is served from the cache while Vault is sealed');
    t.deepEqual(cold.denied, { 503: 5 }, 'the cold secret is denied 503');
    t.log(
      `sealed: cold denials p50 ${quantile(cold.denyMs, 0.5).toFixed(0)} ms, max ${Math.max(...cold.denyMs).toFixed(0)} ms (store timeout ${STORE_TIMEOUT_MS} ms)`,
    );
    t.true(Math.max(...cold.denyMs) < STORE_TIMEOUT_MS + 2000, 'denied within the store timeout plus slack');
    t.deepEqual([...warm.bare, ...cold.bare], []);
    t.is(cold.leaks, 0, 'no value in a denial');
  } finally {
    vault.unseal();
  }
  // Recovery: the cold secret is read once Vault answers again (the sealed reads settle within their budget).
  const after = newTally();
  const deadline = Date.now() + 10_000;
  while (after.injected === 0 && Date.now() < deadline) await send(t, sidecar, 'cold', after);
  t.true(after.injected > 0, 'the cold secret is injected after unseal');
  t.deepEqual(after.bare, []);
});

test.serial('hanging Vault: 503 within the store timeout, never a bare pass; release recovers', async (t) => {
  const { vault } = t.context;
  const sidecar = await rig(t);
  const warm = newTally();
  await send(t, sidecar, 'warm', warm);
  vault.hang();
  const cold = newTally();
  try {
    for (let i = 0; i < 5; i++) {
      await send(t, sidecar, 'cold', cold);
      await send(t, sidecar, 'warm', warm);
    }
  } finally {
    vault.release();
  }
  t.deepEqual(cold.denied, { 503: 5 });
  t.is(warm.injected, 6);
  t.log(`hanging: cold denials max ${Math.max(...cold.denyMs).toFixed(0)} ms (store timeout ${STORE_TIMEOUT_MS} ms)`);
  t.true(Math.max(...cold.denyMs) < STORE_TIMEOUT_MS + 2000);
  const after = newTally();
  const deadline = Date.now() + 10_000;
  while (after.injected === 0 && Date.now() < deadline) await send(t, sidecar, 'cold', after);
  t.true(after.injected > 0, 'the cold secret is injected once Vault answers');
  t.deepEqual([...warm.bare, ...cold.bare, ...after.bare], []);
  t.is(cold.leaks + after.leaks, 0, 'no value in a denial');
});

test.serial('failing Vault (the next N requests answer 500/429/503): retried within the budget, else 503', async (t) => {
  const { vault } = t.context;
  let faults = 0;
  const results: string[] = [];
  for (const [n, status] of [
    [2, 500],
    [2, 429],
    [50, 503],
  ] as const) {
    const sidecar = await rig(t);
    vault.failNext(n, status);
    faults += n;
    const tally = newTally();
    const deadline = Date.now() + 15_000;
    while (tally.injected === 0 && Date.now() < deadline) await send(t, sidecar, 'cold', tally);
    vault.clearFaults();
    results.push(`${n}×${status}: ${tally.sent - tally.injected} denied before the first injection`);
    t.true(tally.injected > 0, `${n}×${status}: recovers`);
    t.deepEqual(tally.bare, [], `${n}×${status}: no bare pass`);
    t.is(tally.leaks, 0, `${n}×${status}: no value in a denial`);
    t.deepEqual(
      Object.keys(tally.denied).filter((s) => s !== '503'),
      [],
      'denials are 503',
    );
  }
  t.log(`${faults} Vault failures injected; ${results.join('; ')}`);
});

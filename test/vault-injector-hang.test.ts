/**
 * The injector on the Vault store when Vault hangs (answers nothing, holds the connection): it
 * must answer Envoy itself, well inside Envoy's 200 ms ext_authz timeout, never leave it waiting.
 * Each injector here is `pai serve --role injector` started in this process (the composition root,
 * a pai-injector Vault token, the default 150 ms store timeout) on the Vault double:
 *
 * - cold cache: Check denies 503 `store_unavailable` within the store timeout (p95 of 50 Checks);
 * - warm cache, within the TTL: Checks keep injecting without a Vault call;
 * - warm cache, past the TTL: stale-if-error keeps injecting the last value read, in bounded time;
 *   within Envoy’s 200 ms, because one decision shares one store budget (src/injector/decide.ts);
 * - past maxStaleMs the stale value is dropped (the cache the injector uses, on a fake clock: the
 *   injector takes no clock, so its 5-minute bound cannot be reached here without waiting).
 *
 * Latencies are measured over sequential Checks; the machine may be loaded, so a p95 over the bound
 * is measured once more before the test fails, and the figures are logged.
 */
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { loadConfig } from '../src/config.js';
import { isPaiError } from '../src/errors.js';
import type { CheckResponse__Output } from '../src/generated/envoy/service/auth/v3/CheckResponse.js';
import { LoadingCache } from '../src/injector/loading-cache.js';
import { silentLogger } from '../src/log.js';
import { startServer } from '../src/main.js';
import { createMetrics } from '../src/metrics.js';
import type { SecretRecord } from '../src/store/types.js';
import { type Stack, authClient, check, checkRequest, denialBody, resource, startStack } from './helpers/injector.js';
import { tempDir } from './helpers/process.js';
import { ALL_IN_ONE_POLICIES, openVaultStore, vaultServeEnv } from './helpers/vault-serve.js';
import { type VaultDouble, startVaultDouble } from './vault-double/server.js';

interface Ctx {
  root: string;
  double: VaultDouble;
  /** Admin and injector in one, used to seed the resources through the admin API. */
  stack: Stack;
}

const test = anyTest as TestFn<Ctx>;

const VALUE = 'AIzaSy-injector-hang-value';
const GEMINI = checkRequest({ agent: 'bot', authority: 'generativelanguage.googleapis.com' });
/** Envoy's default ext_authz timeout: an answer after it is Envoy's 403/503, not pai's. */
const ENVOY_TIMEOUT_MS = 200;
/** The injector's store timeout (src/injector/server.ts, storeTimeoutMs default). */
const STORE_TIMEOUT_MS = 150;
const SAMPLES = 50;

test.before(async (t) => {
  const double = await startVaultDouble();
  t.context = { root: tempDir('pai-vault-hang-'), double } as Ctx;
  const token = double.createToken({ policies: ALL_IN_ONE_POLICIES });
  t.context.stack = await startStack({ env: vaultServeEnv(double, token), logLevel: 'warn' });
  const { admin } = t.context.stack;
  await admin.createSecret('gemini-key', { 'api-key': VALUE });
  await admin.apply(
    resource('ModelProvider', 'gemini', { type: 'gemini', apiKeySecretRef: { name: 'gemini-key', key: 'api-key' } }),
    resource('Agent', 'bot', { modelProviders: ['gemini'] }),
  );
});

test.after.always(async (t) => {
  t.context.double?.release();
  await t.context.stack?.close();
  await t.context.double?.close();
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

interface Injector {
  check(): Promise<CheckResponse__Output>;
  /** Its Vault token, to tell its requests to the double from other processes'. */
  readonly vaultToken: string;
}

let injectors = 0;

/** Starts `pai serve --role injector` in this process with a pai-injector token and PAI_CACHE_TTL `ttl`; closed at teardown. */
async function startInjector(t: ExecutionContext<Ctx>, ttl: string): Promise<Injector> {
  const { double, root } = t.context;
  const dir = path.join(root, `injector-${++injectors}`);
  fs.mkdirSync(dir, { mode: 0o700 });
  const vaultToken = double.createToken({ policies: ['pai-injector'] });
  const env = vaultServeEnv(double, vaultToken, {
    HOME: dir,
    PAI_DATA_DIR: dir,
    PAI_CACHE_TTL: ttl,
    PAI_INJECTOR_LISTEN: `unix:${path.join(dir, 'injector.sock')}`,
  });
  const running = await startServer(loadConfig(env), {
    role: 'injector',
    logger: silentLogger(),
    metrics: createMetrics(),
  });
  const client = authClient(running.injectorAddress ?? '');
  t.teardown(async () => {
    client.close();
    await running.close();
  });
  // Connects the channel without a store read (no identity: denied before any lookup).
  const connected = await check(client, checkRequest({ authority: 'example.org' }));
  if (denialBody(connected)?.error.code !== 'no_identity') throw new Error('the injector did not answer');
  return { check: () => check(client, GEMINI), vaultToken };
}

/** Vault hangs from now until the test ends. */
function hangVault(t: ExecutionContext<Ctx>): void {
  t.context.double.hang();
  t.teardown(() => t.context.double.release());
}

interface Timed {
  readonly ms: number[];
  readonly responses: CheckResponse__Output[];
}

async function timeChecks(injector: Injector, n: number): Promise<Timed> {
  const ms: number[] = [];
  const responses: CheckResponse__Output[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    responses.push(await injector.check());
    ms.push(performance.now() - started);
  }
  return { ms, responses };
}

function percentile(ms: readonly number[], p: number): number {
  const sorted = [...ms].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
}

function figures(label: string, ms: readonly number[]): string {
  const f = (n: number): string => n.toFixed(1);
  return `${label}: n=${ms.length} p50=${f(percentile(ms, 0.5))} ms p95=${f(percentile(ms, 0.95))} ms max=${f(Math.max(...ms))} ms`;
}

/**
 * Measures, asserts `check` on every response, and asserts p95 < `boundMs`; over the bound, measures
 * once more (a loaded machine) and asserts on that run. Returns the run asserted on.
 */
async function assertP95(
  t: ExecutionContext<Ctx>,
  label: string,
  boundMs: number,
  measure: () => Promise<Timed>,
  each: (res: CheckResponse__Output) => void,
): Promise<Timed> {
  let run = await measure();
  t.log(figures(label, run.ms));
  if (percentile(run.ms, 0.95) >= boundMs) {
    run = await measure();
    t.log(figures(`${label}, measured again`, run.ms));
  }
  run.responses.forEach(each);
  t.true(percentile(run.ms, 0.95) < boundMs, `${label}: p95 under ${boundMs} ms`);
  return run;
}

function assertStoreUnavailable(t: ExecutionContext<Ctx>, res: CheckResponse__Output): void {
  t.is(res.http_response, 'denied_response');
  t.deepEqual(res.denied_response?.status, { code: 'ServiceUnavailable' });
  const error = denialBody(res)?.error;
  t.is(error?.code, 'store_unavailable');
  // The agent read gets the decision's budget (STORE_TIMEOUT_MS) less what the secret read is kept.
  const ms = Number(/^the store did not answer within (\d+) ms$/.exec(error?.message ?? '')?.[1]);
  t.true(ms > 0 && ms <= STORE_TIMEOUT_MS, error?.message);
}

function assertInjected(t: ExecutionContext<Ctx>, res: CheckResponse__Output): void {
  t.is(res.http_response, 'ok_response');
  t.deepEqual(
    res.ok_response?.headers?.map((h) => [h.header?.key, h.header?.value]),
    [['x-goog-api-key', VALUE]],
  );
}

/** How many requests `injector` made to the double while `fn` ran. */
async function vaultRequestsDuring<T>(
  double: VaultDouble,
  injector: Injector,
  fn: () => Promise<T>,
): Promise<{ result: T; requests: number }> {
  const count = (): number => double.requests.filter((r) => r.token === injector.vaultToken).length;
  const before = count();
  const result = await fn();
  return { result, requests: count() - before };
}

test.serial('cold cache, Vault hanging: Check denies 503 store_unavailable well inside Envoy’s 200 ms', async (t) => {
  t.timeout(120_000);
  const injector = await startInjector(t, '30s');
  hangVault(t);
  let checks = 0;
  const measure = async (): Promise<Timed> => {
    checks += SAMPLES;
    return timeChecks(injector, SAMPLES);
  };
  const { requests } = await vaultRequestsDuring(t.context.double, injector, () =>
    assertP95(t, 'cold cache, Vault hanging', ENVOY_TIMEOUT_MS, measure, (res) => {
      assertStoreUnavailable(t, res);
    }),
  );
  t.log(`${requests} requests reached Vault for ${checks} Checks`);
  // Concurrent misses share a load, and a load keeps retrying (within its budget) after the Check
  // that started it has been answered: Vault sees a fraction of the Checks, not one call each.
  t.true(requests < checks / 2, 'loads are shared, not one Vault call per Check');
});

test.serial('warm cache within its TTL, Vault hanging: Checks keep injecting without a Vault call', async (t) => {
  t.timeout(60_000);
  const injector = await startInjector(t, '30s');
  assertInjected(t, await injector.check());
  hangVault(t);
  const { requests } = await vaultRequestsDuring(t.context.double, injector, () =>
    assertP95(
      t,
      'warm cache within TTL, Vault hanging',
      ENVOY_TIMEOUT_MS,
      () => timeChecks(injector, SAMPLES),
      (res) => {
        assertInjected(t, res);
      },
    ),
  );
  t.is(requests, 0, 'served from the cache');
});

/** PAI_CACHE_TTL 1ms: every Check after the first finds its entries expired, without a wait. */
async function staleRun(t: ExecutionContext<Ctx>): Promise<Timed> {
  const injector = await startInjector(t, '1ms');
  assertInjected(t, await injector.check());
  hangVault(t);
  return timeChecks(injector, 20);
}

test.serial('warm cache past its TTL, Vault hanging: stale-if-error keeps injecting the last value read', async (t) => {
  t.timeout(60_000);
  const run = await staleRun(t);
  t.log(figures('stale-if-error, Vault hanging', run.ms));
  for (const res of run.responses) assertInjected(t, res);
  // Bounded by the decision's store budget, not by Vault.
  t.true(Math.max(...run.ms) < 2 * STORE_TIMEOUT_MS + 1000, 'answered in bounded time');
});

// Past the TTL the agent and the secret reads share one store budget per decision (150 ms), so the
// stale answer arrives before Envoy's default 200 ms ext_authz timeout would deny on its own.
test.serial('warm cache past its TTL, Vault hanging: stale-if-error answers inside Envoy’s 200 ms', async (t) => {
  t.timeout(60_000);
  const run = await staleRun(t);
  t.log(figures('stale-if-error, Vault hanging', run.ms));
  t.true(percentile(run.ms, 0.95) < ENVOY_TIMEOUT_MS);
});

test.serial('past maxStaleMs the stale value is dropped: a hanging Vault is store_unavailable again', async (t) => {
  t.timeout(60_000);
  const store = await openVaultStore(t.context.double, ['pai-injector']);
  t.teardown(() => store.close());
  // The injector's secret cache as src/injector/server.ts builds it (TTL 30 s, max stale 5 min), on a fake clock.
  let now = Date.now();
  const ttlMs = 30_000;
  const maxStaleMs = Math.max(ttlMs * 10, 5 * 60_000);
  const cache = new LoadingCache<SecretRecord>({
    load: (name) => store.readSecret('default', name),
    ttlMs,
    maxStaleMs,
    loadTimeoutMs: STORE_TIMEOUT_MS,
    now: () => now,
  });
  const readAt = now;
  const value = async (): Promise<string | undefined> => (await cache.get('gemini-key')).data.get('api-key')?.toString();
  t.is(await value(), VALUE);
  hangVault(t);
  for (const age of [ttlMs + 1, maxStaleMs - 1]) {
    now = readAt + age;
    t.is(await value(), VALUE, `stale at ${age} ms`);
  }
  now = readAt + maxStaleMs + 1;
  const err = await t.throwsAsync(value());
  t.true(isPaiError(err, 'store_unavailable'), 'past maxStaleMs: store_unavailable, not the old value');
});

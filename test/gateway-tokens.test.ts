/**
 * Agent tokens on the gateway's hot path (issue 8, acceptance 3): once warm, a gateway Check reads
 * nothing from the store (token record, agent and key all cached); concurrent cold checks of one
 * token make one read; expiry is enforced from the cache; a revocation detaches reads in flight;
 * last-used times keep moving for a busy token and never cost a store read per request, even when
 * the store refuses the write (a read-only Vault policy).
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { type TokenKind, TokenService } from '../src/auth/tokens.js';
import { PaiError } from '../src/errors.js';
import type { CheckRequest } from '../src/generated/envoy/service/auth/v3/CheckRequest.js';
import { LocalStore } from '../src/store/local/sqlite-store.js';
import type { SecretStore } from '../src/store/types.js';
import { makeCanary } from './helpers/canary.js';
import { createToken, seedGateway } from './helpers/gateway-fixture.js';
import { type Stack, checkRequest, check, faultyInjector, faultyStore, startStack } from './helpers/injector.js';
import { tempDir } from './helpers/process.js';

interface Context {
  stack: Stack;
  /** A plain local store for the TokenService unit rows. */
  store: SecretStore;
}
const test = anyTest as TestFn<Context>;

test.before(async (t) => {
  const stack = await startStack({ logLevel: 'info' });
  await seedGateway(stack, makeCanary);
  const dir = tempDir('pai-tokens-');
  const store = LocalStore.open({ dataDir: dir, masterKeyFile: `${dir}/master.key` });
  // Agent tokens are made only for an agent that exists.
  await store.putDoc('agents', 'default', 'bot', { apiVersion: 'pai/v1', kind: 'Agent', metadata: { name: 'bot' }, spec: {} });
  t.context = { stack, store };
});
test.after.always(async (t) => {
  await t.context.store?.close();
  await t.context.stack?.close();
});

const HEADER = { openai: 'authorization', anthropic: 'x-api-key', gemini: 'x-goog-api-key' } as const;

function gatewayRequest(mp: keyof typeof HEADER, token: string | undefined, principal?: string): CheckRequest {
  const value = mp === 'openai' ? `Bearer ${token}` : (token ?? '');
  const base = checkRequest({
    method: 'POST',
    path: `/${mp}/v1/x`,
    authority: 'gateway:8080',
    headers: token === undefined ? [] : [[HEADER[mp], value]],
    contextExtensions: { 'pai.mode': 'gateway', 'pai.modelprovider': mp },
  });
  return principal === undefined ? base : { attributes: { ...base.attributes, source: { principal } } };
}

/** Counts the store calls of an injector started on a wrapped store. */
function counting(): { counts: Record<string, number>; faults: Parameters<typeof faultyInjector>[1] } {
  const counts: Record<string, number> = {};
  const count =
    (op: string) =>
    (real: (...args: unknown[]) => Promise<unknown>, ...args: unknown[]): Promise<unknown> => {
      const key = op === 'getDoc' || op === 'getClusterDoc' ? `${op}:${String(args[0])}` : op;
      counts[key] = (counts[key] ?? 0) + 1;
      return real(...args);
    };
  const ops = [
    'getDoc',
    'getClusterDoc',
    'readSecret',
    'putDoc',
    'putClusterDoc',
    'listDocs',
    'listClusterDocs',
    'getSecretMeta',
    'listSecrets',
  ] as const;
  return { counts, faults: Object.fromEntries(ops.map((op) => [op, count(op)])) };
}

test('warm gateway Checks make no store round trip (token, agent and key cached)', async (t) => {
  const { counts, faults } = counting();
  const { token } = await createToken(t.context.stack.admin, { role: 'agent', agent: 'bot' });
  const injector = await faultyInjector(t.context.stack, faults);
  t.teardown(() => injector.close());
  const mps = ['openai', 'anthropic', 'gemini'] as const;
  // Warm-up: one Check per model provider with the token, one with a certificate identity.
  for (const mp of mps) t.is((await check(injector.client, gatewayRequest(mp, token))).status?.code, 0);
  t.is((await check(injector.client, gatewayRequest('openai', undefined, 'spiffe://pai/agent/bot'))).status?.code, 0);
  const warm = { ...counts };
  t.true((warm['getClusterDoc:agenttokens'] ?? 0) >= 1, 'the cold Check did read the token record');
  t.is(warm['putClusterDoc'], undefined, 'no token record write: the last use goes to the usage counts');
  const N = 300;
  for (let i = 0; i < N; i++) {
    const mp = mps[i % mps.length] ?? 'openai';
    const res = await check(
      injector.client,
      gatewayRequest(mp, i % 10 === 0 ? undefined : token, i % 10 === 0 ? 'spiffe://pai/agent/bot' : undefined),
    );
    if (res.status?.code !== 0) return t.fail(`request ${i} denied: ${res.denied_response?.body}`);
  }
  t.deepEqual(counts, warm, `no store call in ${N} warm Checks`);
});

test('concurrent cold Checks with one token read its record once (single flight)', async (t) => {
  const { counts, faults } = counting();
  const slow: typeof faults = {
    ...faults,
    getClusterDoc: async (real, ...args) => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      const fault = faults['getClusterDoc'];
      return typeof fault === 'function' ? fault(real, ...args) : real(...args);
    },
  };
  const { token } = await createToken(t.context.stack.admin, { role: 'agent', agent: 'bot' });
  const injector = await faultyInjector(t.context.stack, slow);
  t.teardown(() => injector.close());
  const results = await Promise.all(Array.from({ length: 50 }, () => check(injector.client, gatewayRequest('openai', token))));
  t.true(results.every((r) => r.status?.code === 0));
  t.is(counts['getClusterDoc:agenttokens'], 1);
});

test('a token store read that hangs is answered 503 within the store timeout', async (t) => {
  const { token } = await createToken(t.context.stack.admin, { role: 'agent', agent: 'bot' });
  const injector = await faultyInjector(t.context.stack, { getClusterDoc: 'hang' }, { storeTimeoutMs: 100 });
  t.teardown(() => injector.close());
  const started = Date.now();
  const res = await check(injector.client, gatewayRequest('openai', token));
  t.true(Date.now() - started < 2500);
  t.is(res.status?.message, 'store_unavailable');
  t.deepEqual(res.denied_response?.status, { code: 'ServiceUnavailable' });
});

// ---------------------------------------------------------------------------------------------
// TokenService rows with an injected clock and a counting store.

function clocked(store: SecretStore, faults: Parameters<typeof faultyStore>[1] = {}) {
  let now = Date.parse('2030-01-01T00:00:00Z');
  const reads = { get: 0, put: 0 };
  const wrapped = faultyStore(store, {
    getClusterDoc: (real, ...args) => {
      reads.get++;
      return real(...args);
    },
    putClusterDoc: (real, ...args) => {
      reads.put++;
      return real(...args);
    },
    ...faults,
  });
  const service = (options: { lastUsedWriteMs?: number; kinds?: readonly TokenKind[] } = {}): TokenService =>
    new TokenService({ store: wrapped, now: () => new Date(now), cacheTtlMs: 60_000, ...options });
  return { service, reads, advance: (ms: number) => (now += ms) };
}

const rejectsUnauthenticated = async (t: ExecutionContext<Context>, p: Promise<unknown>): Promise<void> => {
  const err = await t.throwsAsync(p);
  t.true(err instanceof PaiError && err.code === 'unauthenticated', String(err));
};

test('expiry is enforced on a cached record, without a store read', async (t) => {
  const c = clocked(t.context.store);
  const tokens = c.service();
  const { token } = await tokens.create({ role: 'agent', agent: 'bot', ttlMs: 10_000 });
  t.is((await tokens.verify(token, { role: 'agent' })).agent, 'bot');
  const reads = c.reads.get;
  c.advance(9_999);
  t.is((await tokens.verify(token, { role: 'agent' })).agent, 'bot');
  c.advance(1);
  await rejectsUnauthenticated(t, tokens.verify(token, { role: 'agent' }));
  t.is(c.reads.get, reads, 'decided from the cache');
});

test('verify with role agent refuses admin, viewer and renderer tokens, and does not count them as used', async (t) => {
  const c = clocked(t.context.store);
  const tokens = c.service();
  for (const role of ['admin', 'viewer', 'renderer'] as const) {
    const made = await tokens.create({ role });
    await rejectsUnauthenticated(t, tokens.verify(made.token, { role: 'agent' }));
    const listed = (await tokens.list(role)).find((i) => i.id === made.info.id);
    t.is(listed?.lastUsedAt, undefined, role);
    t.is((await tokens.verify(made.token)).role, role, 'still valid for the admin API');
  }
});

test('forget() during a read in flight: the older record is not cached', async (t) => {
  let release: (() => void) | undefined;
  let gated = 0;
  const c = clocked(t.context.store);
  const tokens = c.service();
  const { token, info } = await tokens.create({ role: 'agent', agent: 'bot' });
  const slow = clocked(t.context.store, {
    // The first read completes at once; its result is held back until the test releases it.
    getClusterDoc: async (real, ...args) => {
      const first = gated++ === 0;
      const result = await real(...args);
      if (first) await new Promise<void>((resolve) => (release = resolve));
      return result;
    },
  });
  // As in the injector, which reads agent tokens only (one getClusterDoc per miss).
  const reader = slow.service({ kinds: ['agenttokens'] });
  const first = reader.verify(token);
  while (!release) await new Promise((resolve) => setImmediate(resolve));
  // What the injector does when the admin API publishes the revocation.
  await tokens.revoke(info.id);
  reader.forget(info.id);
  release();
  t.is((await first).agent, 'bot', 'the request that started before the revocation completes');
  await rejectsUnauthenticated(t, reader.verify(token));
  t.is(gated, 2, 'the second verify read the store again');
});

test('a busy token keeps its last-used time moving (written once per interval, not only after a pause)', async (t) => {
  const c = clocked(t.context.store);
  const tokens = c.service({ lastUsedWriteMs: 1000 });
  const { token, info } = await tokens.create({ role: 'agent', agent: 'bot' });
  const writes = c.reads.put;
  for (let i = 0; i < 25; i++) {
    await tokens.verify(token);
    c.advance(200);
  }
  // Uses at 0, 200, …, 4800 ms: writes at 0, 1000, 2000, 3000, 4000.
  await new Promise((resolve) => setImmediate(resolve));
  t.is(c.reads.put - writes, 5);
  const fresh = new TokenService({ store: t.context.store });
  const listed = (await fresh.list('agent')).find((i) => i.id === info.id);
  t.is(listed?.lastUsedAt, new Date(Date.parse('2030-01-01T00:00:04Z')).toISOString());
});

test('a store that refuses the last-used write (read-only policy) still costs no read per request', async (t) => {
  const c = clocked(t.context.store);
  const { token } = await c.service().create({ role: 'agent', agent: 'bot' });
  const readOnly = clocked(t.context.store, { putClusterDoc: new PaiError('forbidden', 'permission denied') });
  const tokens = readOnly.service({ lastUsedWriteMs: 1000, kinds: ['agenttokens'] });
  for (let i = 0; i < 20; i++) {
    t.is((await tokens.verify(token)).agent, 'bot');
    await new Promise((resolve) => setImmediate(resolve));
    readOnly.advance(100);
  }
  t.is(readOnly.reads.get, 1);
});

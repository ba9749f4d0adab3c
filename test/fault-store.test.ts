/**
 * The injector when its store fails (helpers/fuzz-fault.ts wraps the store passed to InjectorServer):
 * down, hanging, slow, late and flapping. It must deny 503 within its store timeout when it has no
 * cached value, serve cached values within the TTL, and never let a request for a matched host
 * through without the credential. Requests go through the sidecar simulator with the ext_authz
 * filter as Envoy is configured (failure_mode_allow: false, status_on_error 503) to an upstream
 * recorder, which is where a credential-less pass would show.
 */
import { randomUUID } from 'node:crypto';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { makeCanary } from './helpers/canary.js';
import { ExtAuthzFilter } from './helpers/ext-authz-filter.js';
import { type ControlledInjector, controlledInjector, newTally, quantile, sendAndClassify } from './helpers/fuzz-fault.js';
import { scale } from './helpers/fuzz.js';
import { type Stack, check as callCheck, checkRequest, denialBody, resource, startStack } from './helpers/injector.js';
import { type Sidecar, type UpstreamRecorder, startSidecar, startUpstream } from './helpers/sidecar-sim.js';

const HOST = 'api.fault.example';
const STORE_TIMEOUT_MS = 150;

interface Ctx {
  stack: Stack;
  upstream: UpstreamRecorder;
  token: string;
  closers: (() => Promise<void>)[];
}
const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const stack = await startStack({ logLevel: 'silent' });
  const upstream = await startUpstream();
  const token = makeCanary('fault');
  await stack.admin.createSecret('fault-key', { token });
  await stack.admin.createSecret('cold-key', { token: makeCanary('cold') });
  await stack.admin.apply(
    resource('Provider', 'fault-api', { type: 'http', hosts: [HOST], auth: { secretRef: 'fault-key' } }),
    resource('Provider', 'cold-api', { type: 'http', hosts: ['cold.fault.example'], auth: { secretRef: 'cold-key' } }),
    resource('Agent', 'bot', { providers: ['fault-api', 'cold-api'] }),
  );
  t.context = { stack, upstream, token, closers: [() => upstream.close(), () => stack.close()] };
});

test.after.always(async (t) => {
  for (const close of t.context.closers ?? []) await close();
});

/** A controlled injector and a sidecar in front of it, torn down with the suite. */
async function rig(
  t: ExecutionContext<Ctx>,
  options: { ttl?: string; storeTimeoutMs?: number } = {},
): Promise<{ injector: ControlledInjector; sidecar: Sidecar }> {
  const injector = await controlledInjector(t.context.stack.dataDir, t.context.stack.running.store, {
    storeTimeoutMs: STORE_TIMEOUT_MS,
    ...options,
  });
  const filter = new ExtAuthzFilter({
    client: injector.client,
    contextExtensions: { 'pai.agent': 'bot' },
    statusOnError: 503,
    timeoutMs: 5000,
  });
  const sidecar = await startSidecar({ filter, upstreamPort: t.context.upstream.port });
  t.context.closers.unshift(
    () => sidecar.close(),
    () => injector.close(),
  );
  return { injector, sidecar };
}

const bearer = (token: string) => (auth: readonly string[]) => auth.length === 1 && auth[0] === `Bearer ${token}`;

test.serial('store down or hanging with a cold cache: 503 store_unavailable, within the store timeout', async (t) => {
  const { injector } = await rig(t);
  const check = async (host: string): Promise<{ ms: number; status: number; code: string | undefined }> => {
    const started = performance.now();
    const res = await callCheck(injector.client, checkRequest({ authority: host, agent: 'bot' }));
    return { ms: performance.now() - started, status: res.status?.code ?? 0, code: denialBody(res)?.error.code };
  };
  const latencies: number[] = [];
  for (const mode of [{ kind: 'down' }, { kind: 'hang' }] as const) {
    injector.control.mode = mode;
    for (let i = 0; i < 10; i++) {
      const res = await check(HOST);
      t.is(res.code, 'store_unavailable', `${mode.kind}: denied store_unavailable`);
      t.is(res.status, 14, 'gRPC UNAVAILABLE in the CheckResponse status');
      latencies.push(res.ms);
    }
  }
  const p50 = quantile(latencies, 0.5);
  const max = Math.max(...latencies);
  t.log(
    `20 cold Checks with the store down/hanging: p50 ${p50.toFixed(0)} ms, max ${max.toFixed(0)} ms (store timeout ${STORE_TIMEOUT_MS} ms); ${injector.control.faults} faults`,
  );
  // Generous for a loaded machine: the point is that a hang does not hold the request.
  t.true(max < STORE_TIMEOUT_MS + 2000, `every denial came within the store timeout plus slack (max ${max.toFixed(0)} ms)`);
});

test.serial('cached values are served within the TTL while the store is down; a cold secret is denied 503', async (t) => {
  const { injector, sidecar } = await rig(t, { ttl: '30s' });
  const { upstream, token } = t.context;
  const tally = newTally();
  await sendAndClassify(sidecar.port, upstream, HOST, randomUUID(), bearer(token), tally);
  t.is(tally.injected, 1, 'warm: injected');
  injector.control.mode = { kind: 'down' };
  for (let i = 0; i < 20; i++) await sendAndClassify(sidecar.port, upstream, HOST, randomUUID(), bearer(token), tally);
  t.is(tally.injected, 21, 'every request within the TTL was served from the cache with the credential');
  const cold = newTally();
  await sendAndClassify(sidecar.port, upstream, 'cold.fault.example', randomUUID(), () => false, cold, [token]);
  t.deepEqual(cold.denied, { 503: 1 }, 'a secret never read is denied 503');
  t.deepEqual([...tally.bare, ...cold.bare], []);
  t.is(cold.leaks, 0, 'no value in the denial');
});

test.serial(
  'a slow store within the timeout is waited for; beyond it the request is denied and the late value cached',
  async (t) => {
    const { injector, sidecar } = await rig(t, { storeTimeoutMs: 400 });
    const { upstream, token } = t.context;
    injector.control.mode = { kind: 'slow', ms: 100 };
    const fast = newTally();
    await sendAndClassify(sidecar.port, upstream, HOST, randomUUID(), bearer(token), fast);
    t.is(fast.injected, 1, 'a 100 ms store read is waited for');
    const slowRig = await rig(t, { storeTimeoutMs: 100 });
    slowRig.injector.control.mode = { kind: 'slow', ms: 600 };
    const slow = newTally();
    await sendAndClassify(slowRig.sidecar.port, upstream, HOST, randomUUID(), bearer(token), slow, [token]);
    t.deepEqual(slow.denied, { 503: 1 }, 'a 600 ms store read is not waited for');
    // Each late result fills the cache (the agent's view first, then the secret): once they have
    // arrived, requests are served from them even though every read is still too slow.
    const deadline = Date.now() + 15_000;
    while (slow.injected === 0 && Date.now() < deadline) {
      await sendAndClassify(slowRig.sidecar.port, upstream, HOST, randomUUID(), bearer(token), slow, [token]);
    }
    t.true(slow.injected > 0, 'the late values were cached and served');
    t.log(
      `600 ms store reads, 100 ms timeout: ${slow.sent - slow.injected} requests denied 503 before the late values served the next`,
    );
    t.deepEqual([...fast.bare, ...slow.bare], []);
    t.is(slow.leaks, 0, 'no value in a denial');
  },
);

test.serial('flapping store under load: every request is injected or denied, never passed bare', async (t) => {
  t.timeout(120_000);
  const { injector, sidecar } = await rig(t, { ttl: '200ms' });
  const { upstream, token } = t.context;
  injector.control.mode = { kind: 'flap', p: 0.3, hang: 0.1 };
  const tally = newTally();
  // At least 6 s of load, then on until both outcomes were seen (at most 60 s): with 30% failures
  // and 10% hangs (each hang holds its key's read for 1.5 s before it is abandoned), and an agent
  // view needing several reads to succeed together, a 6 s window with no injection at all happens
  // (it did, once in a CI run: 15 reads, 7 of them faults).
  const started = Date.now();
  const minimum = started + scale(6000, 60_000);
  const cap = started + 60_000;
  const more = (): boolean =>
    Date.now() < minimum || (Date.now() < cap && (tally.injected === 0 || injector.control.faults === 0));
  const worker = async (): Promise<void> => {
    while (more()) await sendAndClassify(sidecar.port, upstream, HOST, randomUUID(), bearer(token), tally, [token]);
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const denied = Object.values(tally.denied).reduce((a, b) => a + b, 0);
  t.log(
    `flapping store (30% fail, 10% hang, TTL 200 ms): ${tally.sent} requests, ${tally.injected} injected, ${denied} denied ${JSON.stringify(tally.denied)}, ` +
      `${injector.control.faults} faults injected over ${injector.control.calls} store reads, denial p99 ${quantile(tally.denyMs, 0.99).toFixed(0)} ms`,
  );
  t.deepEqual(tally.bare, [], 'no request reached the upstream without the credential');
  t.is(tally.leaks, 0, 'no value in any denial');
  t.is(tally.errors, 0);
  t.true(tally.injected > 0 && injector.control.faults > 0, 'both outcomes happened');
  t.deepEqual(Object.keys(tally.denied), denied > 0 ? ['503'] : [], 'denials are 503');
});

test.serial('a slow read that straddles a rotation is not served longer than the TTL after it', async (t) => {
  // TTL 1 s; each secret read takes its snapshot, then 1.2 s to arrive (within the 3 s store
  // timeout, so no stale-if-error is involved). The rotation lands while the first read is on its
  // way. Requests that join that read get the old value (it began before the rotation); after it,
  // the old value may be served only while it is younger than the TTL, counted from the read's
  // start. Stamped at its arrival instead, it would be served until TTL after the arrival.
  const ttlMs = 1000;
  const lateMs = 1200;
  const { injector, sidecar } = await rig(t, { ttl: `${ttlMs}ms`, storeTimeoutMs: 3000 });
  const { upstream, stack } = t.context;
  const oldToken = makeCanary('before');
  const newToken = makeCanary('after');
  await stack.admin.replaceSecret('fault-key', { token: oldToken });
  const tally = newTally();
  const accept = (auth: readonly string[]): boolean => auth[0] === `Bearer ${oldToken}` || auth[0] === `Bearer ${newToken}`;
  // Warm the agent's view (a host of no provider: no secret read), then make secret reads late.
  await sendAndClassify(sidecar.port, upstream, 'unmatched.example', randomUUID(), () => true, tally);
  injector.control.only = 'readSecret';
  injector.control.mode = { kind: 'late', ms: lateMs };
  const observations: { startedAfterRotationMs: number; old: boolean }[] = [];
  let rotatedAt = Number.POSITIVE_INFINITY;
  const one = async (): Promise<void> => {
    const started = performance.now();
    const tag = randomUUID();
    await sendAndClassify(sidecar.port, upstream, HOST, tag, accept, tally);
    const seen = upstream.requests.find((q) => q.headers.some(([n, v]) => n === 'x-load-tag' && v === tag));
    const auth = seen?.headers.find(([n]) => n === 'authorization')?.[1];
    if (auth !== undefined)
      observations.push({ startedAfterRotationMs: started - rotatedAt, old: auth === `Bearer ${oldToken}` });
  };
  const first = one();
  // Let the first read take its snapshot, then rotate (the injector is not told, like another process).
  await new Promise((resolve) => setTimeout(resolve, 100));
  await stack.admin.replaceSecret('fault-key', { token: newToken });
  rotatedAt = performance.now();
  const until = rotatedAt + 4000;
  const loop = async (): Promise<void> => {
    while (performance.now() < until) {
      await one();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await Promise.all([first, loop(), loop()]);
  injector.control.mode = { kind: 'up' };
  await stack.admin.replaceSecret('fault-key', { token: t.context.token });
  const stale = observations.filter((o) => o.old && o.startedAfterRotationMs > 0);
  const worst = Math.max(0, ...stale.map((o) => o.startedAfterRotationMs));
  t.log(
    `${tally.sent} requests; the old value reached ${stale.length} that started after the rotation, at most ${worst.toFixed(0)} ms after it ` +
      `(TTL ${ttlMs} ms, read time ${lateMs} ms; stamped at arrival it would be up to ~${lateMs + ttlMs} ms)`,
  );
  t.deepEqual(tally.bare, []);
  t.true(
    worst < Math.max(ttlMs, lateMs) + 300,
    `the old value was not served past max(TTL, read time) after the rotation (worst ${worst.toFixed(0)} ms)`,
  );
  t.true(
    observations.some((o) => !o.old),
    'the new value arrived',
  );
});

/**
 * The injector process killed (-9) and restarted while a load loop sends requests through the
 * sidecar simulator: `pai serve --role admin` and `pai serve --role injector` as separate child
 * processes on one data dir (the local store is shared through SQLite), the ext_authz filter
 * configured as envoy/sidecar-ext-authz.yaml (failure_mode_allow: false, status_on_error 503,
 * timeout 0.5 s) and the ext_proc filter as envoy/sidecar-ext-proc.yaml. The agent must only ever
 * see denials (or connection errors turned into denials) while the injector is away, and every
 * request the upstream recorder receives for the provider's host must carry the credential.
 *
 * The admin process being killed during a burst of writes is test/durability.test.ts.
 */
import { randomUUID } from 'node:crypto';
import anyTest, { type TestFn } from 'ava';
import { makeCanary } from './helpers/canary.js';
import { ExtAuthzFilter } from './helpers/ext-authz-filter.js';
import { ExtProcFilter, extProcClient } from './helpers/ext-proc-filter.js';
import { newTally, sendAndClassify } from './helpers/fuzz-fault.js';
import { scale } from './helpers/fuzz.js';
import { Admin, authClient, resource } from './helpers/injector.js';
import { type ServeHandle, adminToken, startServe, tempDir } from './helpers/process.js';
import {
  type Sidecar,
  type UpstreamRecorder,
  agentRequest,
  headerValues,
  startSidecar,
  startUpstream,
} from './helpers/sidecar-sim.js';

const HOST = 'api.restart.example';

interface Ctx {
  dataDir: string;
  admin: ServeHandle;
  injectors: ServeHandle[];
  upstream: UpstreamRecorder;
  closers: (() => Promise<void> | void)[];
}
const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const dataDir = `${tempDir('pai-restart-')}/data`;
  const admin = await startServe({ dataDir, args: ['--role', 'admin'], env: { PAI_LOG_LEVEL: 'info' } });
  const upstream = await startUpstream();
  t.context = { dataDir, admin, injectors: [], upstream, closers: [() => upstream.close(), () => admin.kill()] };
});

test.after.always(async (t) => {
  for (const s of t.context.injectors ?? []) await s.kill();
  for (const close of t.context.closers ?? []) await close();
});

test.serial('injector killed and restarted under load: denials while it is away, never a bare pass', async (t) => {
  const { dataDir, upstream } = t.context;
  const token = makeCanary('restart');
  const admin = new Admin(t.context.admin.adminUrl, adminToken(dataDir));
  await admin.createSecret('restart-key', { token });
  await admin.apply(
    resource('Provider', 'restart-api', { type: 'http', hosts: [HOST], auth: { secretRef: 'restart-key' } }),
    resource('Agent', 'bot', { providers: ['restart-api'] }),
  );
  const startInjector = async (): Promise<ServeHandle> => {
    const s = await startServe({ dataDir, args: ['--role', 'injector'], env: { PAI_LOG_LEVEL: 'info' } });
    t.context.injectors.push(s);
    return s;
  };
  let injector = await startInjector();
  const socket = `unix:${dataDir}/injector.sock`;
  const authz = authClient(socket);
  const proc = extProcClient(socket);
  t.context.closers.unshift(
    () => authz.close(),
    () => proc.close(),
  );
  const sidecars: Sidecar[] = [
    await startSidecar({
      filter: new ExtAuthzFilter({
        client: authz,
        contextExtensions: { 'pai.agent': 'bot' },
        statusOnError: 503,
        timeoutMs: 500,
      }),
      upstreamPort: upstream.port,
    }),
    await startSidecar({
      filter: new ExtProcFilter({ client: proc, agent: 'bot', messageTimeoutMs: 500 }),
      upstreamPort: upstream.port,
    }),
  ];
  for (const s of sidecars) t.context.closers.unshift(() => s.close());

  const tally = newTally();
  const passes = { unmatched: 0, unmatchedBare: 0 };
  let stop = false;
  const worker = async (i: number): Promise<void> => {
    const sidecar = sidecars[i % sidecars.length];
    if (!sidecar) return;
    while (!stop) {
      const injectedBefore = tally.injected;
      await sendAndClassify(
        sidecar.port,
        upstream,
        HOST,
        randomUUID(),
        (a) => a.length === 1 && a[0] === `Bearer ${token}`,
        tally,
        [token],
      );
      // An agent backs off a little after a failure; without it the loop only measures fail-fast speed.
      if (tally.injected === injectedBefore) await new Promise((resolve) => setTimeout(resolve, 10));
      // A host of no provider passes through bare when the injector is up: that is not a leak.
      const tag = randomUUID();
      const res = await agentRequest(sidecar.port, { host: 'unmatched.example', headers: [['x-load-tag', tag]] }).catch(
        () => undefined,
      );
      if (res?.status === 200) passes.unmatched++;
      const seen = upstream.requests.find((q) => headerValues(q.headers, 'x-load-tag')[0] === tag);
      if (seen && headerValues(seen.headers, 'authorization').length > 0) passes.unmatchedBare++;
    }
  };
  const load = Promise.all(Array.from({ length: 6 }, (_, i) => worker(i)));
  const kills = scale(3, 20);
  let restarts = 0;
  try {
    for (let k = 0; k < kills; k++) {
      // Let traffic flow through the live injector, then kill it mid-stream.
      const before = tally.injected;
      const deadline = Date.now() + 20_000;
      while (tally.injected < before + 20 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      await injector.kill();
      const deniedBefore = Object.values(tally.denied).reduce((a, b) => a + b, 0);
      const waitDenied = Date.now() + 10_000;
      while (Object.values(tally.denied).reduce((a, b) => a + b, 0) < deniedBefore + 5 && Date.now() < waitDenied) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      injector = await startInjector();
      restarts++;
    }
    const before = tally.injected;
    const deadline = Date.now() + 20_000;
    while (tally.injected < before + 20 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    stop = true;
    await load;
  }
  const denied = Object.values(tally.denied).reduce((a, b) => a + b, 0);
  t.log(
    `${kills} kill -9 / ${restarts} restarts under load: ${tally.sent} requests for the provider host, ${tally.injected} injected, ` +
      `${denied} denied ${JSON.stringify(tally.denied)}, ${tally.errors} agent-side errors; ${passes.unmatched} unmatched passes`,
  );
  t.deepEqual(tally.bare, [], 'every request that reached the upstream for the provider host carried the credential');
  t.is(passes.unmatchedBare, 0, 'no credential on the unmatched host');
  t.is(tally.errors, 0, 'the sidecar answered every request');
  t.is(tally.leaks, 0, 'no value in any denial');
  t.true(denied > 0, 'the outages were seen as denials');
  t.deepEqual(
    Object.keys(tally.denied).filter((s) => !['500', '503', '504'].includes(s)),
    [],
    'denials are the failure-mode statuses (503 ext_authz, 500/504 ext_proc)',
  );
  t.true(tally.injected > 20 * kills, 'traffic flowed between the kills');
  t.is(injector.child.exitCode, null, 'the last injector is running');
});

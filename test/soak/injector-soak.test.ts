/**
 * Soak: the injector under a fixed request rate while secrets are rotated through the admin API.
 * `pai serve --role admin` and `pai serve --role injector` run as separate processes on one data dir
 * (so the injector learns of rotations only through its cache TTL, PAI_CACHE_TTL=1s, as an injector
 * in another pod would), requests go through the sidecar simulator (ext_authz and ext_proc filters,
 * alternately) to an upstream that records each request's credential.
 *
 * Asserted: zero errors (every request answered 200 with a credential), zero stale values after the
 * TTL (each credential is the current value, or one replaced less than TTL before the request
 * started), and a flat memory: the injector's RSS (VmRSS, /proc) at the end against the start.
 * `make test` runs ~20 s; `make soak` (PAI_SOAK=1) runs PAI_SOAK_MINUTES (default 5) minutes.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import anyTest, { type TestFn } from 'ava';
import { makeCanary } from '../helpers/canary.js';
import { ExtAuthzFilter } from '../helpers/ext-authz-filter.js';
import { ExtProcFilter, extProcClient } from '../helpers/ext-proc-filter.js';
import { SOAK, mib, rssOf } from '../helpers/fuzz.js';
import { Admin, authClient, resource } from '../helpers/injector.js';
import { type ServeHandle, adminToken, startServe, tempDir } from '../helpers/process.js';
import { type Sidecar, agentRequest, startSidecar } from '../helpers/sidecar-sim.js';

const TTL_MS = 1000;
const SLACK_MS = 100;
const DURATION_MS = SOAK ? Number(process.env['PAI_SOAK_MINUTES'] ?? 5) * 60_000 : 20_000;
const RATE = SOAK ? 150 : 80;
const SECRETS = 4;
const ROTATE_EVERY_MS = 250;
const SAMPLE_MS = SOAK ? 30_000 : 5000;

interface Ctx {
  closers: (() => Promise<void> | void)[];
}
const test = anyTest as TestFn<Ctx>;

test.before((t) => {
  t.context = { closers: [] };
});

test.after.always(async (t) => {
  for (const close of t.context.closers) await close();
});

interface Version {
  readonly value: string;
  ackAt: number | undefined;
}

/** The upstream: remembers each request's credential by its tag until the test takes it. */
async function startRecorder(): Promise<{ port: number; take: (tag: string) => string | undefined; close: () => Promise<void> }> {
  const seen = new Map<string, string>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const tag = req.headers['x-soak-tag'];
      if (typeof tag === 'string') seen.set(tag, req.headers.authorization ?? '');
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    take: (tag) => {
      const v = seen.get(tag);
      seen.delete(tag);
      return v;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

test.serial(`injector soak: ${RATE} req/s for ${DURATION_MS / 1000} s with rotations every ${ROTATE_EVERY_MS} ms`, async (t) => {
  // Longer than ava's inactivity timeout (3m in package.json) under `make soak`: say so.
  t.timeout(DURATION_MS + 180_000);
  const dataDir = `${tempDir('pai-soak-')}/data`;
  const env = { PAI_LOG_LEVEL: 'warn', PAI_CACHE_TTL: `${TTL_MS}ms` };
  const adminProc: ServeHandle = await startServe({ dataDir, args: ['--role', 'admin'], env });
  t.context.closers.push(async () => void (await adminProc.stop()));
  const admin = new Admin(adminProc.adminUrl, adminToken(dataDir));
  const history: Version[][] = [];
  const byValue = new Map<string, { secret: number; index: number }>();
  for (let s = 0; s < SECRETS; s++) {
    const value = makeCanary(`soak${s}-0`);
    await admin.createSecret(`soak-${s}`, { token: value });
    history.push([{ value, ackAt: Date.now() }]);
    byValue.set(`Bearer ${value}`, { secret: s, index: 0 });
  }
  await admin.apply(
    ...Array.from({ length: SECRETS }, (_, s) =>
      resource('Provider', `soak-${s}`, { type: 'http', hosts: [`api${s}.soak.example`], auth: { secretRef: `soak-${s}` } }),
    ),
    resource('Agent', 'bot', { providers: Array.from({ length: SECRETS }, (_, s) => `soak-${s}`) }),
  );
  const injector = await startServe({ dataDir, args: ['--role', 'injector'], env });
  t.context.closers.unshift(async () => void (await injector.stop()));
  const pid = injector.child.pid ?? 0;
  const recorder = await startRecorder();
  t.context.closers.push(() => recorder.close());
  const socket = `unix:${dataDir}/injector.sock`;
  const authz = authClient(socket);
  const proc = extProcClient(socket);
  t.context.closers.unshift(
    () => authz.close(),
    () => proc.close(),
  );
  const sidecars: Sidecar[] = [
    await startSidecar({
      filter: new ExtAuthzFilter({ client: authz, contextExtensions: { 'pai.agent': 'bot' }, timeoutMs: 10_000 }),
      upstreamPort: recorder.port,
    }),
    await startSidecar({
      filter: new ExtProcFilter({ client: proc, agent: 'bot', messageTimeoutMs: 10_000 }),
      upstreamPort: recorder.port,
    }),
  ];
  for (const s of sidecars) t.context.closers.unshift(() => s.close());

  const stats = { sent: 0, ok: 0, errors: [] as string[], stale: 0, maxStaleMs: -Infinity, rotations: 0, latencies: 0 };
  const note = (e: string): void => void (stats.errors.length < 20 && stats.errors.push(e));
  const one = async (n: number): Promise<void> => {
    const secret = n % SECRETS;
    const tag = randomUUID();
    const started = Date.now();
    stats.sent++;
    let status: number;
    try {
      status = (
        await agentRequest(sidecars[n % 2]?.port ?? 0, { host: `api${secret}.soak.example`, headers: [['x-soak-tag', tag]] })
      ).status;
    } catch (err) {
      note(`request ${n}: ${String(err)}`);
      return;
    }
    stats.latencies += Date.now() - started;
    const auth = recorder.take(tag);
    if (status !== 200 || auth === undefined) return note(`request ${n}: status ${status}`);
    const found = byValue.get(auth);
    if (!found || found.secret !== secret) return note(`request ${n}: a credential that is not one of secret ${secret}'s values`);
    const next = history[secret]?.[found.index + 1];
    if (next?.ackAt !== undefined) {
      // The value was replaced (acknowledged) at next.ackAt; the request started `age` ms later.
      const age = started - next.ackAt;
      stats.maxStaleMs = Math.max(stats.maxStaleMs, age);
      if (age > TTL_MS + SLACK_MS) stats.stale++;
    }
    stats.ok++;
  };

  let running = true;
  const rotator = (async () => {
    let round = 0;
    while (running) {
      const s = round % SECRETS;
      const versions = history[s];
      if (versions) {
        const value = makeCanary(`soak${s}-${versions.length}`);
        const version: Version = { value, ackAt: undefined };
        versions.push(version);
        byValue.set(`Bearer ${value}`, { secret: s, index: versions.length - 1 });
        await admin.replaceSecret(`soak-${s}`, { token: value });
        version.ackAt = Date.now();
        stats.rotations++;
      }
      round++;
      await new Promise((resolve) => setTimeout(resolve, ROTATE_EVERY_MS / SECRETS));
    }
  })();

  // Warm up, then take the starting RSS.
  await Promise.all(Array.from({ length: 20 }, (_, i) => one(i)));
  const rssStart = rssOf(pid);
  const rssSamples: number[] = [];
  const inflight = new Set<Promise<void>>();
  const start = Date.now();
  let n = 20;
  let nextSample = start;
  while (Date.now() - start < DURATION_MS) {
    // Fixed rate: send what is due by now (bounded in flight, so a stall shows as lower throughput).
    const due = Math.floor(((Date.now() - start) / 1000) * RATE) + 20;
    while (n < due && inflight.size < 200) {
      const p = one(n++).finally(() => inflight.delete(p));
      inflight.add(p);
    }
    if (Date.now() >= nextSample) {
      const rss = rssOf(pid);
      if (rss !== undefined) rssSamples.push(rss);
      nextSample += SAMPLE_MS;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await Promise.all(inflight);
  running = false;
  await rotator;
  const elapsed = (Date.now() - start) / 1000;
  const rssEnd = rssOf(pid);
  const rssMax = Math.max(...rssSamples, rssEnd ?? 0);
  t.log(
    `${stats.sent} requests in ${elapsed.toFixed(0)} s (${(stats.sent / elapsed).toFixed(0)} req/s, mean ${(stats.latencies / Math.max(1, stats.ok)).toFixed(1)} ms), ` +
      `${stats.ok} ok, ${stats.errors.length} errors, ${stats.rotations} rotations, ${stats.stale} stale after the TTL ` +
      `(oldest replaced value served ${stats.maxStaleMs.toFixed(0)} ms after its replacement; TTL ${TTL_MS} ms); ` +
      `injector RSS start ${mib(rssStart)}, end ${mib(rssEnd)}, max ${mib(rssMax)}; ` +
      `every ${SAMPLE_MS / 1000} s (MiB): ${rssSamples.map((r) => (r / 1024 / 1024).toFixed(0)).join(' ')}`,
  );
  t.deepEqual(stats.errors, [], 'zero errors');
  t.is(stats.stale, 0, 'zero stale values after the TTL');
  t.true(stats.sent >= (RATE * DURATION_MS) / 1000 / 2, 'the rate was held at least halfway on this machine');
  t.true(stats.rotations > 10, 'secrets were rotated during the run');
  t.true(stats.maxStaleMs > 0, 'replaced values were served for a while (the TTL at work across processes)');
  if (rssStart !== undefined && rssEnd !== undefined) {
    // Generous: a garbage collector is free to grow the heap; a leak grows with the request count.
    t.true(rssEnd < rssStart * 1.5 + 32 * 1024 * 1024, `RSS flat: ${mib(rssStart)} → ${mib(rssEnd)}`);
  }
  t.is(injector.child.exitCode, null, 'the injector is still running');
});

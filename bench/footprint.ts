/**
 * Footprint and mix benchmark (issue 15, items 4 and 5): a real `pai serve --role injector` (as it
 * runs in a pod: local store, unix socket) beside the no-op floor (a grpc-js server answering Check
 * with OK, bench/footprint-lib.ts), both under the same node flags, both driven by the same client.
 *
 *   RSS idle        both processes, IDLE_S seconds after start, before any request
 *   one request     capacity (4 connections × 25 in flight), one GitHub Check repeated
 *   mix             capacity, 8 agents × 4 hosts (GitHub, Slack, OpenAI, Anthropic), each Check with
 *                   the headers Envoy sends (:authority :method :path :scheme x-request-id
 *                   x-forwarded-proto user-agent accept content-type content-length
 *                   x-envoy-expected-rq-timeout-ms and the agent's own authorization)
 *   RSS after load  both, once the injector has answered ≥ 200,000 Checks (and VmHWM, the peak)
 *   RSS settled     both, SETTLE_S after the load (the pod profile's idle collection has run), then
 *                   ROUNDS more mix runs each, the injector's first: a Check's CPU once the heap
 *                   was collected (does it recover, unlike after V8's memory reducer?)
 *
 * AWS (SigV4) and Telegram (token in the path) are not in the Check mix: ext_authz refuses them
 * (needs_ext_proc) and Envoy sends them to ext_proc, which bench/ext-proc.ts measures.
 *
 * The client is h2load, one process per request body (it sends one body per run), 32 at once, -c1
 * -m3 each; every body's answer is verified (credential present) before the runs and compared byte
 * for byte after them. Rounds alternate which server goes first; medians and ranges are printed.
 * Knobs: BENCH_ROUNDS (3), BENCH_CAPACITY (30000 per run), BENCH_IDLE_S (15: after the first idle
 * collection, which pai serve runs at the end of its first quiet 5 s window under
 * PAI_NODE_PROFILE=pod, src/heap.ts), BENCH_SUSTAINED (200000), BENCH_SETTLE_S (15), BENCH_NODE_FLAGS
 * (flag sets separated by `;`; default bin/pai.js's own, then with PAI_NODE_PROFILE=pod's bounded
 * heap added).
 * Writes .bench/footprint.json. Run: `npx tsx bench/footprint.ts` (or `make bench`).
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { CheckResponse__Output } from '../src/generated/envoy/service/auth/v3/CheckResponse.js';
import { envoyService } from '../src/injector/envoy-grpc.js';
import { Admin, checkRequest, resource } from '../test/helpers/injector.js';
import { PAI_NODE_FLAGS, PAI_POD_NODE_FLAGS, ROOT, adminToken, startServe, tempDir } from '../test/helpers/process.js';
import { call, connect, cpuUs, frame, h2loadMix, rss, startNoop, stopChild } from './footprint-lib.js';
import { median } from './lib.js';

const env = process.env;
const ROUNDS = Number(env['BENCH_ROUNDS'] ?? 3);
const CAPACITY = Number(env['BENCH_CAPACITY'] ?? 30_000);
const IDLE_S = Number(env['BENCH_IDLE_S'] ?? 15);
// After the load: long enough for two of the idle collector's 5 s windows (src/heap.ts), the first
// of which may still have seen the load.
const SETTLE_S = Number(env['BENCH_SETTLE_S'] ?? 15);
const SUSTAINED = Number(env['BENCH_SUSTAINED'] ?? 200_000);
const IN_FLIGHT = 3;
const FLAG_SETS: string[][] = env['BENCH_NODE_FLAGS']
  ? env['BENCH_NODE_FLAGS'].split(';').map((s) => s.trim().split(/\s+/).filter(Boolean))
  : [[...PAI_NODE_FLAGS], [...PAI_NODE_FLAGS, ...PAI_POD_NODE_FLAGS]];
const AGENTS = Array.from({ length: 8 }, (_, i) => `agent-${i}`);
const SECRET = (name: string): string => `bench-${name}-${'0123456789abcdef'.repeat(2)}`;

/** The hosts of the mix: authority, method, path, what the agent sends, and the header injected. */
const HOSTS = [
  {
    authority: 'api.github.com',
    method: 'POST',
    path: '/repos/pai/agents/issues?per_page=50',
    accept: 'application/vnd.github+json',
  },
  { authority: 'slack.com', method: 'POST', path: '/api/chat.postMessage', accept: 'application/json' },
  { authority: 'api.openai.com', method: 'POST', path: '/v1/chat/completions', accept: 'application/json' },
  { authority: 'api.anthropic.com', method: 'POST', path: '/v1/messages', accept: 'application/json' },
] as const;

async function seed(admin: Admin): Promise<void> {
  await admin.createSecret('github-pat', { token: SECRET('github') });
  await admin.createSecret('slack-bot', { token: SECRET('slack') });
  await admin.createSecret('openai-key', { 'api-key': SECRET('openai') });
  await admin.createSecret('anthropic-key', { 'api-key': SECRET('anthropic') });
  const ref = (name: string): Record<string, unknown> => ({ name, key: 'api-key' });
  await admin.apply(
    resource('Provider', 'github', { type: 'github', auth: { secretRef: 'github-pat' } }),
    // Slack's bot token as a bearer header (the pai/v1 form has no slack type; pai.io/v1's slack does the same).
    resource('Provider', 'slack', { type: 'http', hosts: ['slack.com'], auth: { secretRef: 'slack-bot' } }),
    resource('ModelProvider', 'openai', { type: 'openai', apiKeySecretRef: ref('openai-key') }),
    resource('ModelProvider', 'anthropic', { type: 'anthropic', apiKeySecretRef: ref('anthropic-key') }),
    ...AGENTS.map((a) => resource('Agent', a, { providers: ['github', 'slack'], modelProviders: ['openai', 'anthropic'] })),
  );
}

/** The framed CheckRequests of the mix, agent × host, each with Envoy's headers. */
function mixFrames(): Buffer[] {
  const check = envoyService('auth')['Check'];
  if (!check) throw new Error('no Check method');
  return AGENTS.flatMap((agent, a) =>
    HOSTS.map((h, i) =>
      frame(
        check.requestSerialize(
          checkRequest({
            agent,
            method: h.method,
            path: h.path,
            authority: h.authority,
            scheme: 'http',
            headers: [
              ['x-request-id', `5f0c6f6e-4a36-4a5e-9a64-${String(a * 100 + i).padStart(12, '0')}`],
              ['x-forwarded-proto', 'http'],
              ['user-agent', 'pai-agent/1.0 (node)'],
              ['accept', h.accept],
              ['content-type', 'application/json'],
              ['content-length', '512'],
              ['x-envoy-expected-rq-timeout-ms', '15000'],
              ['authorization', 'Bearer agent-own'],
            ],
          }),
        ),
      ),
    ),
  );
}

/** One call per frame on the injector: each must inject the right secret; returns the answers. */
async function verify(address: string, frames: readonly Buffer[]): Promise<Buffer[]> {
  const check = envoyService('auth')['Check'];
  const session = connect(address);
  try {
    const answers: Buffer[] = [];
    for (const [i, f] of frames.entries()) {
      const res = await call(session, f);
      const decoded = check?.responseDeserialize(res.message) as CheckResponse__Output;
      const host = HOSTS[i % HOSTS.length]?.authority ?? '';
      const want = SECRET(host.split('.').at(-2) ?? '');
      const values = (decoded.ok_response?.headers ?? []).map((h) => h.header?.value ?? '');
      if (res.status !== '0' || decoded.status?.code !== 0 || !values.some((v) => v.includes(want))) {
        throw new Error(`mix request ${i} (${host}) was not injected: ${JSON.stringify(decoded.status)}`);
      }
      answers.push(res.message);
    }
    return answers;
  } finally {
    session.close();
  }
}

interface Run {
  flags: string;
  idle: { injector: number; floor: number; injectorAnon: number; floorAnon: number };
  after: {
    injector: number;
    floor: number;
    injectorPeak: number;
    floorPeak: number;
    injectorAnon: number;
    floorAnon: number;
    checks: number;
  };
  /** SETTLE_S after the load, when the idle collector (pod profile) has run. */
  settled: { injector: number; floor: number; injectorAnon: number; floorAnon: number };
  one: Series;
  mix: Series;
  /** ROUNDS more mix runs each after the settle (injector first): a Check's CPU once the heap was collected. */
  mixAfter: Series;
}

/** Per round: requests/s and the server's CPU µs per Check, of each server. */
interface Series {
  injector: number[];
  floor: number[];
  injectorCpu: number[];
  floorCpu: number[];
}

const series = (): Series => ({ injector: [], floor: [], injectorCpu: [], floorCpu: [] });

async function measureFlags(flags: string[], dataDir: string, work: string): Promise<Run> {
  const socket = path.join(work, 'inj.sock');
  const injector = await startServe({
    dataDir,
    nodeFlags: flags,
    args: ['--role', 'injector'],
    env: { PAI_INJECTOR_LISTEN: `unix:${socket}`, PAI_LOG_LEVEL: 'error', PAI_CACHE_TTL: '30s' },
  });
  const floorChild: ChildProcess = await startNoop(flags, path.join(work, 'noop.sock'));
  try {
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const [idleInjector, idleFloor] = [rss(injector.child.pid), rss(floorChild.pid)];
    const idle = {
      injector: idleInjector.rssMiB,
      floor: idleFloor.rssMiB,
      injectorAnon: idleInjector.anonMiB,
      floorAnon: idleFloor.anonMiB,
    };
    const frames = mixFrames();
    const answers = await verify(`unix:${socket}`, frames);
    const files = frames.map((f, k) => {
      const file = path.join(work, `check-${k}.bin`);
      fs.writeFileSync(file, f);
      return file;
    });
    const servers = {
      injector: { address: `unix:${socket}`, pid: injector.child.pid },
      floor: { address: `unix:${path.join(work, 'noop.sock')}`, pid: floorChild.pid },
    };
    const one = series();
    const mix = series();
    // The same shape for both: one h2load per body (32 of them, -c1 -m3: 96 in flight); "one
    // request" gives all 32 the same body, the mix a different one each.
    const oneFiles = files.map(() => files[0] as string);
    const timed = async (which: 'injector' | 'floor', into: Series, bodies: readonly string[]): Promise<void> => {
      const before = cpuUs(servers[which].pid);
      into[which].push(await h2loadMix(servers[which].address, bodies, CAPACITY, IN_FLIGHT));
      into[`${which}Cpu`].push((cpuUs(servers[which].pid) - before) / CAPACITY);
    };
    let checks = frames.length;
    for (const which of ['injector', 'floor'] as const) await h2loadMix(servers[which].address, files, 5000, IN_FLIGHT); // warm-up
    checks += 5000;
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (['floor', 'injector'] as const) : (['injector', 'floor'] as const);
      for (const which of order) {
        await timed(which, one, oneFiles);
        await timed(which, mix, files);
      }
      checks += 2 * CAPACITY;
    }
    if (checks < SUSTAINED) {
      const rest = SUSTAINED - checks;
      await h2loadMix(servers.injector.address, files, rest, IN_FLIGHT);
      await h2loadMix(servers.floor.address, files, rest, IN_FLIGHT);
      checks += rest;
    }
    // The answers after the load are still the verified ones (h2load reads no gRPC status).
    const again = await verify(`unix:${socket}`, frames);
    if (again.some((a, k) => !a.equals(answers[k] as Buffer))) throw new Error('the injector answers differently after the load');
    await new Promise((r) => setTimeout(r, 2000));
    const i = rss(injector.child.pid);
    const f = rss(floorChild.pid);
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
    const [si, sf] = [rss(injector.child.pid), rss(floorChild.pid)];
    const settled = { injector: si.rssMiB, floor: sf.rssMiB, injectorAnon: si.anonMiB, floorAnon: sf.anonMiB };
    const mixAfter = series();
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (['injector', 'floor'] as const) : (['floor', 'injector'] as const);
      for (const which of order) await timed(which, mixAfter, files);
    }
    return {
      flags: flags.join(' ') || '(none)',
      idle,
      after: {
        injector: i.rssMiB,
        floor: f.rssMiB,
        injectorPeak: i.peakMiB,
        floorPeak: f.peakMiB,
        injectorAnon: i.anonMiB,
        floorAnon: f.anonMiB,
        checks,
      },
      settled,
      one,
      mix,
      mixAfter,
    };
  } finally {
    await stopChild(floorChild);
    await injector.stop();
  }
}

const fmt = (xs: readonly number[]): string =>
  `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;

/** Prints one flag set's figures (as soon as they are measured: a comparison of flag sets runs long). */
function report(r: Run): void {
  {
    const ratios = (x: Series): number[] => x.injector.map((v, k) => v / (x.floor[k] ?? NaN));
    // Server CPU per Check, floor over injector: the capacity ratio once the client is not the limit.
    const cpuRatios = (x: Series): number[] => x.floorCpu.map((v, k) => v / (x.injectorCpu[k] ?? NaN));
    const cpu = (x: Series): string =>
      `CPU/Check ${median(x.injectorCpu).toFixed(1)} vs ${median(x.floorCpu).toFixed(1)} µs, floor/injector ${fmt(cpuRatios(x))}`;
    console.log(`  node ${r.flags}`);
    console.log(
      `    RSS idle            injector ${r.idle.injector.toFixed(1)} MiB   floor ${r.idle.floor.toFixed(1)} MiB   (target ≤ 64); private (RssAnon) injector ${r.idle.injectorAnon.toFixed(1)} MiB   floor ${r.idle.floorAnon.toFixed(1)} MiB`,
    );
    console.log(
      `    RSS after ${r.after.checks} Checks  injector ${r.after.injector.toFixed(1)} MiB (peak ${r.after.injectorPeak.toFixed(1)})   floor ${r.after.floor.toFixed(1)} MiB (peak ${r.after.floorPeak.toFixed(1)})   (target ≤ 100); private injector ${r.after.injectorAnon.toFixed(1)} MiB   floor ${r.after.floorAnon.toFixed(1)} MiB`,
    );
    console.log(
      `    RSS ${SETTLE_S} s later     injector ${r.settled.injector.toFixed(1)} MiB   floor ${r.settled.floor.toFixed(1)} MiB   (idle collector, pod profile); private injector ${r.settled.injectorAnon.toFixed(1)} MiB   floor ${r.settled.floorAnon.toFixed(1)} MiB`,
    );
    console.log(
      `    one request         injector ${median(r.one.injector).toFixed(0)} req/s   floor ${median(r.one.floor).toFixed(0)} req/s   ratio ${fmt(ratios(r.one))}; ${cpu(r.one)}`,
    );
    console.log(
      `    mix (8 agents × 4 hosts)  injector ${median(r.mix.injector).toFixed(0)} req/s   floor ${median(r.mix.floor).toFixed(0)} req/s   ratio ${fmt(ratios(r.mix))}; ${cpu(r.mix)}   (target ≥ 0.95)`,
    );
    console.log(
      `    mix after the settle  injector ${median(r.mixAfter.injector).toFixed(0)} req/s   floor ${median(r.mixAfter.floor).toFixed(0)} req/s   ratio ${fmt(ratios(r.mixAfter))}; ${cpu(r.mixAfter)}`,
    );
  }
}

async function main(): Promise<void> {
  const work = tempDir('pai-bench-footprint-');
  const dataDir = path.join(work, 'data');
  try {
    // Seed with the admin role, then run the injector role alone on the same data dir (as in a pod).
    const admin = await startServe({ dataDir, args: ['--role', 'admin'], env: { PAI_LOG_LEVEL: 'error' } });
    try {
      await seed(new Admin(admin.adminUrl, adminToken(dataDir)));
    } finally {
      await admin.stop();
    }
    const runs: Run[] = [];
    console.log(`\nfootprint benchmark: pai serve --role injector vs the no-op floor, same flags (node ${process.version})`);
    for (const flags of FLAG_SETS) {
      const run = await measureFlags(flags, dataDir, work);
      runs.push(run);
      report(run);
    }
    const outDir = path.join(ROOT, '.bench');
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(
      path.join(outDir, 'footprint.json'),
      JSON.stringify({ rounds: ROUNDS, capacity: CAPACITY, runs }, null, 2) + '\n',
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();

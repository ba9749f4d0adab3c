/**
 * ext_proc benchmark: the per-request cost of ExternalProcessor/Process beside ext_authz Check, in
 * the same run, against a real `pai serve` (the built binary, info logs, warm cache) over its unix
 * socket, with grpc-js clients playing Envoy (helpers in test/helpers/).
 *
 *   check            one Check call (github header credential)
 *   headers-only     one Process stream: request_headers → HeadersResponse with the mutation
 *   sigv4 1 KiB      one Process stream: headers → mode_override → 1 KiB body → signed BodyResponse
 *   sigv4 1 MiB      the same with a 1 MiB body
 *
 * Each runs serially (one request at a time: p50, p99, mean µs/request) and at BENCH_CONCURRENCY
 * requests in flight (default 16: µs/request = wall time / requests, and requests/s). Rounds are
 * interleaved and medians reported. Target: headers-only costs at most 2× Check, serial and
 * concurrent. A final line compares SHA-256 of 1 MiB with node:crypto (what the signer uses) and
 * the pure-JS @aws-crypto/sha256-js it replaced.
 * Knobs: BENCH_ROUNDS (3), BENCH_REQUESTS (3000; sigv4 1 MiB runs a tenth), BENCH_CONCURRENCY (16),
 * BENCH_STRICT=1 exits 1 when the target is missed. Writes .bench/ext-proc.json.
 * Run: `npx tsx bench/ext-proc.ts` (or `make bench`, after a build).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Sha256 } from '@aws-crypto/sha256-js';
import { NodeSha256 } from '../src/inject/sigv4.js';
import type { AuthorizationClient } from '../src/generated/envoy/service/auth/v3/Authorization.js';
import type { ExternalProcessorClient } from '../src/generated/envoy/service/ext_proc/v3/ExternalProcessor.js';
import type { ProcessingResponse__Output } from '../src/generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { type ExtProcHeadersSpec, ScriptedStream, extProcClient, headersMessage } from '../test/helpers/ext-proc-filter.js';
import { Admin, authClient, check, checkRequest, resource } from '../test/helpers/injector.js';
import { ROOT, adminToken, startServe, tempDir } from '../test/helpers/process.js';

const env = process.env;
const ROUNDS = Number(env['BENCH_ROUNDS'] ?? 3);
const REQUESTS = Number(env['BENCH_REQUESTS'] ?? 3000);
const CONCURRENCY = Number(env['BENCH_CONCURRENCY'] ?? 16);
const TARGET = 2;
const GITHUB_TOKEN = `ghp_${'0123456789abcdefghij'.repeat(2)}`;

const AGENT_HEADERS: [string, string][] = [
  ['user-agent', 'pai-agent/1.0 (node)'],
  ['accept', 'application/json'],
  ['content-type', 'application/json'],
  ['authorization', 'Bearer agent-own'],
  ['x-request-id', '5f0c6f6e-4a36-4a5e-9a64-2a8f3e8f5c11'],
  ['x-forwarded-proto', 'http'],
];

type Op = () => Promise<void>;

interface Scenario {
  readonly name: string;
  readonly requests: number;
  readonly op: Op;
}

interface Figures {
  serialP50: number;
  serialP99: number;
  serialMean: number;
  concurrentUs: number;
  concurrentRps: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};
const quantile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

async function serial(op: Op, n: number): Promise<{ p50: number; p99: number; mean: number }> {
  const lat: number[] = [];
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await op();
    lat.push((performance.now() - t0) * 1000);
  }
  const wall = (performance.now() - started) * 1000;
  lat.sort((a, b) => a - b);
  return { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), mean: wall / n };
}

async function concurrent(op: Op, n: number, width: number): Promise<{ us: number; rps: number }> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        next++;
        await op();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { us: (seconds * 1e6) / n, rps: n / seconds };
}

/** One ext_proc request: headers, then the body when the injector asks for it; the final answer. */
async function processOnce(
  client: ExternalProcessorClient,
  spec: ExtProcHeadersSpec,
  body?: Buffer,
): Promise<ProcessingResponse__Output> {
  const stream = new ScriptedStream(client);
  try {
    const first = await stream.send(headersMessage(spec));
    if (first.mode_override && body) return await stream.send({ request_body: { body, end_of_stream: true } });
    return first;
  } finally {
    stream.end();
  }
}

function scenarios(auth: AuthorizationClient, proc: ExternalProcessorClient): Scenario[] {
  const checkReq = checkRequest({
    agent: 'bench-bot',
    method: 'POST',
    path: '/repos/pai/agents/issues',
    authority: 'api.github.com',
    scheme: 'http',
    headers: AGENT_HEADERS,
  });
  const headersSpec: ExtProcHeadersSpec = {
    agent: 'bench-bot',
    method: 'POST',
    path: '/repos/pai/agents/issues',
    authority: 'api.github.com',
    headers: AGENT_HEADERS,
    endOfStream: false,
  };
  const signed = (size: number): { spec: ExtProcHeadersSpec; body: Buffer } => ({
    spec: {
      agent: 'bench-bot',
      method: 'PUT',
      path: '/bench-bucket/object.bin',
      authority: 's3.us-east-1.amazonaws.com',
      headers: [...AGENT_HEADERS, ['content-length', String(size)]],
      endOfStream: false,
    },
    body: randomBytes(size),
  });
  const small = signed(1024);
  const large = signed(1024 * 1024);
  return [
    { name: 'check', requests: REQUESTS, op: async () => void (await check(auth, checkReq)) },
    { name: 'ext_proc headers-only', requests: REQUESTS, op: async () => void (await processOnce(proc, headersSpec)) },
    { name: 'ext_proc sigv4 1 KiB', requests: REQUESTS, op: async () => void (await processOnce(proc, small.spec, small.body)) },
    {
      name: 'ext_proc sigv4 1 MiB',
      requests: Math.max(20, Math.round(REQUESTS / 10)),
      op: async () => void (await processOnce(proc, large.spec, large.body)),
    },
  ];
}

/** Checks once that every scenario's answer really injects (a bench of denials would be meaningless). */
async function verify(auth: AuthorizationClient, proc: ExternalProcessorClient): Promise<void> {
  const checked = await check(auth, checkRequest({ agent: 'bench-bot', authority: 'api.github.com', scheme: 'http' }));
  if (checked.ok_response?.headers?.[0]?.header?.value !== `Bearer ${GITHUB_TOKEN}`) throw new Error('Check did not inject');
  const headers = await processOnce(proc, { agent: 'bench-bot', authority: 'api.github.com' });
  const set = headers.request_headers?.response?.header_mutation?.set_headers?.[0];
  if (Buffer.from(set?.header?.raw_value ?? '').toString() !== `Bearer ${GITHUB_TOKEN}`)
    throw new Error('Process did not inject');
  const signedAnswer = await processOnce(
    proc,
    { agent: 'bench-bot', method: 'PUT', path: '/b/o', authority: 's3.us-east-1.amazonaws.com', endOfStream: false },
    Buffer.from('x'),
  );
  const auths =
    signedAnswer.request_body?.response?.header_mutation?.set_headers?.filter((h) => h.header?.key === 'authorization') ?? [];
  if (!/^AWS4-HMAC-SHA256 /.test(Buffer.from(auths[0]?.header?.raw_value ?? '').toString()))
    throw new Error('Process did not sign');
}

async function hashComparison(): Promise<{ nodeUs: number; jsUs: number }> {
  const data = randomBytes(1024 * 1024);
  const time = async (make: () => { update(d: Uint8Array): void; digest(): Promise<Uint8Array> }, n: number): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const h = make();
      h.update(data);
      await h.digest();
    }
    return ((performance.now() - t0) * 1000) / n;
  };
  return { nodeUs: await time(() => new NodeSha256(), 50), jsUs: await time(() => new Sha256(), 5) };
}

const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

async function main(): Promise<void> {
  const work = tempDir('pai-bench-ext-proc-');
  const dataDir = path.join(work, 'data');
  const server = await startServe({ dataDir, env: { PAI_LOG_LEVEL: 'info', PAI_CACHE_TTL: '300s' } });
  const injector = server.injectorAddress();
  const auth = authClient(injector);
  const proc = extProcClient(injector);
  try {
    const admin = new Admin(server.adminUrl, adminToken(dataDir));
    await admin.createSecret('github-pat', { token: GITHUB_TOKEN });
    await admin.createSecret('aws-keys', {
      access_key_id: 'AKIDBENCHEXAMPLE',
      secret_access_key: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYBENCHKEY',
    });
    await admin.apply(
      resource('Provider', 'github', { type: 'github', auth: { secretRef: 'github-pat' } }),
      resource('Provider', 'aws', { type: 'aws', auth: { secretRef: 'aws-keys' } }),
      resource('Agent', 'bench-bot', { providers: ['github', 'aws'] }),
    );
    await verify(auth, proc);
    const all = scenarios(auth, proc);
    for (const s of all) await serial(s.op, Math.min(300, s.requests)); // warm-up: JIT, caches, connections
    const rounds = new Map<string, Figures[]>(all.map((s) => [s.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of all) {
        const ser = await serial(s.op, s.requests);
        const con = await concurrent(s.op, s.requests, CONCURRENCY);
        rounds
          .get(s.name)
          ?.push({ serialP50: ser.p50, serialP99: ser.p99, serialMean: ser.mean, concurrentUs: con.us, concurrentRps: con.rps });
      }
    }
    const figures = new Map<string, Figures>();
    for (const [name, list] of rounds) {
      const pick = (k: keyof Figures): number => median(list.map((f) => f[k]));
      figures.set(name, {
        serialP50: pick('serialP50'),
        serialP99: pick('serialP99'),
        serialMean: pick('serialMean'),
        concurrentUs: pick('concurrentUs'),
        concurrentRps: pick('concurrentRps'),
      });
    }
    const hash = await hashComparison();

    console.log(
      `ext_proc vs Check over ${injector} (medians of ${ROUNDS} rounds; ${REQUESTS} requests, concurrency ${CONCURRENCY})`,
    );
    console.log(
      'scenario                 serial p50 µs  p99 µs  mean µs  req/s   | c=' + `${CONCURRENCY}`.padEnd(3) + ' µs/req  req/s',
    );
    for (const [name, f] of figures) {
      console.log(
        `${name.padEnd(24)} ${fmt(f.serialP50).padStart(13)} ${fmt(f.serialP99).padStart(7)} ${fmt(f.serialMean).padStart(8)} ${fmt(1e6 / f.serialMean).padStart(7)}   | ${fmt(f.concurrentUs).padStart(10)} ${fmt(f.concurrentRps).padStart(6)}`,
      );
    }
    const checkF = figures.get('check');
    const headersF = figures.get('ext_proc headers-only');
    if (!checkF || !headersF) throw new Error('missing figures');
    const serialRatio = headersF.serialMean / checkF.serialMean;
    const concurrentRatio = headersF.concurrentUs / checkF.concurrentUs;
    const met = serialRatio <= TARGET && concurrentRatio <= TARGET;
    console.log(
      `headers-only / Check: serial ${serialRatio.toFixed(2)}×, concurrent ${concurrentRatio.toFixed(2)}× (target ≤ ${TARGET}×): ${met ? 'met' : 'MISSED'}`,
    );
    console.log(
      `SHA-256 of 1 MiB: node:crypto ${fmt(hash.nodeUs)} µs, @aws-crypto/sha256-js ${fmt(hash.jsUs)} µs (${(hash.jsUs / hash.nodeUs).toFixed(1)}×)`,
    );
    fs.mkdirSync(path.join(ROOT, '.bench'), { recursive: true });
    fs.writeFileSync(
      path.join(ROOT, '.bench', 'ext-proc.json'),
      `${JSON.stringify({ rounds: ROUNDS, requests: REQUESTS, concurrency: CONCURRENCY, figures: Object.fromEntries(figures), ratios: { serial: serialRatio, concurrent: concurrentRatio }, target: TARGET, met, sha256Us1MiB: hash }, null, 2)}\n`,
    );
    if (!met && env['BENCH_STRICT'] === '1') process.exitCode = 1;
  } finally {
    auth.close();
    proc.close();
    await server.stop();
  }
}

await main();

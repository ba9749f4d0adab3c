/**
 * Secrets benchmark: starts a real `pai serve` on a temp data dir, creates BENCH_SECRETS secrets
 * (default 10,000) through the admin API with BENCH_CONCURRENCY requests in flight (default 16),
 * then times `pai get secrets` and `pai describe secret` (the real CLI binary, whole process,
 * median of BENCH_RUNS runs) and the API list call. Prints a table and writes .bench/secrets.json.
 * Target: `pai get secrets` with 10,000 secrets answers in under 1 s.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { api } from '../test/helpers/api.js';
import { PAI_BIN, PAI_NODE_FLAGS, ROOT, adminToken, startServe, tempDir } from '../test/helpers/process.js';

const SECRETS = Number(process.env['BENCH_SECRETS'] ?? 10_000);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 16);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const GET_TARGET_MS = 1000;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

const secretName = (i: number): string => `bench-${String(i).padStart(6, '0')}`;

/** Runs the real `pai` binary once; resolves with its wall time and output size, rejects on a non-zero exit. */
function timePai(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; bytes: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [...PAI_NODE_FLAGS, PAI_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      const stdout = Buffer.concat(out).toString('utf8');
      if (code !== 0) reject(new Error(`pai ${args.join(' ')} exited ${code}: ${Buffer.concat(err).toString('utf8')}`));
      else resolve({ ms, bytes: Buffer.byteLength(stdout), stdout });
    });
  });
}

/** Creates `count` secrets with `concurrency` requests in flight; returns per-request latencies (ms). */
async function createSecrets(baseUrl: string, token: string, count: number, concurrency: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const started = performance.now();
      const res = await api(baseUrl, token, 'POST', '/v1/secrets', {
        name: secretName(i),
        data: { 'api-key': `bench-value-${i}-${'x'.repeat(40)}`, region: 'eu-west-1' },
      });
      if (res.status !== 201) throw new Error(`create ${secretName(i)} answered ${res.status}: ${res.text}`);
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return latencies;
}

async function timed<T>(runs: number, fn: () => Promise<T>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return times;
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

async function main(): Promise<void> {
  const server = await startServe({ dataDir: path.join(tempDir('pai-bench-'), 'data'), env: { PAI_LOG_LEVEL: 'info' } });
  try {
    const token = adminToken(server.dataDir);
    const baseUrl = server.adminUrl;

    const createStarted = performance.now();
    const latencies = await createSecrets(baseUrl, token, SECRETS, CONCURRENCY);
    const createMs = performance.now() - createStarted;

    const get = await timed(RUNS, async () => {
      const r = await timePai(['get', 'secrets'], server.env);
      const rows = r.stdout.split('\n').filter(Boolean).length - 1;
      if (rows !== SECRETS) throw new Error(`pai get secrets listed ${rows} rows, expected ${SECRETS}`);
    });
    const describe = await timed(RUNS, () => timePai(['describe', 'secret', secretName(Math.floor(SECRETS / 2))], server.env));
    let listBytes = 0;
    const list = await timed(RUNS, async () => {
      const r = await api(baseUrl, token, 'GET', '/v1/secrets');
      if (r.status !== 200 || r.json.items.length !== SECRETS) throw new Error(`list answered ${r.status}`);
      listBytes = Buffer.byteLength(r.text);
    });
    // The floor under every CLI figure: starting node and loading the CLI, without a request.
    const startup = await timed(RUNS, () => timePai(['--version'], server.env));

    const results = {
      secrets: SECRETS,
      concurrency: CONCURRENCY,
      runs: RUNS,
      createTotalMs: createMs,
      createPerSecond: (SECRETS / createMs) * 1000,
      createP50Ms: percentile(latencies, 50),
      createP99Ms: percentile(latencies, 99),
      getSecretsMedianMs: median(get),
      describeSecretMedianMs: median(describe),
      apiListMedianMs: median(list),
      apiListBytes: listBytes,
      cliStartupMedianMs: median(startup),
      getSecretsTargetMs: GET_TARGET_MS,
    };

    const f = (n: number): string => n.toFixed(1);
    const rows: [string, string][] = [
      [
        `create ${SECRETS} secrets (API, ${CONCURRENCY} in flight)`,
        `${(createMs / 1000).toFixed(2)} s, ${f(results.createPerSecond)} secrets/s`,
      ],
      ['  per request p50 / p99', `${f(results.createP50Ms)} / ${f(results.createP99Ms)} ms`],
      [`pai get secrets (CLI, median of ${RUNS})`, `${f(results.getSecretsMedianMs)} ms`],
      [`pai describe secret (CLI, median of ${RUNS})`, `${f(results.describeSecretMedianMs)} ms`],
      [`GET /v1/secrets (API, median of ${RUNS})`, `${f(results.apiListMedianMs)} ms, ${(listBytes / 1024).toFixed(0)} KiB`],
      [`pai --version (CLI start-up floor, median of ${RUNS})`, `${f(results.cliStartupMedianMs)} ms`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log(`\nsecrets benchmark (node ${process.version})`);
    for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
    const met = results.getSecretsMedianMs < GET_TARGET_MS;
    console.log(`  target: pai get secrets with ${SECRETS} secrets under ${GET_TARGET_MS} ms: ${met ? 'met' : 'MISSED'}\n`);

    const outDir = path.join(ROOT, '.bench');
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'secrets.json'), JSON.stringify(results, null, 2) + '\n');
    if (!met && process.env['BENCH_STRICT'] === '1') process.exitCode = 1;
  } finally {
    await server.stop();
    fs.rmSync(path.dirname(server.dataDir), { recursive: true, force: true });
  }
}

await main();

/**
 * TLS through a running `pai serve` (the built binary, local store), over its injector socket with
 * grpc-js clients built from Envoy's protos (the test clients):
 *
 *   fetch warm     FetchSecrets for an agent whose leaf an open stream keeps (answer only)
 *   fetch cold     FetchSecrets for an agent nobody watches (a leaf is issued for the call)
 *   rebind push    PUT of the agent's Provider with another host (admin API) → the new leaf on the
 *                  agent's open StreamSecrets (admin write, change feed, re-issue, push)
 *   fetch after    the first FetchSecrets after such a change (the book's leaf is already new)
 *
 * and an ext_authz Check (github, api.github.com) beside itself with SDS busy, in the same run:
 *
 *   no-sds         no SDS stream open
 *   sds-streams    BENCH_STREAMS (100) agents each with an open, ACKed StreamSecrets (idle, as
 *                  sidecars hold them between renewals)
 *   sds-churn      the same streams, plus FetchSecrets for unwatched agents back to back in the
 *                  background (a leaf issued per call: the worst case, many pods starting at once)
 *
 * Every answer is checked. BENCH_ROUNDS (3, medians, order rotated), BENCH_SERIAL (2000),
 * BENCH_CAPACITY (10000), BENCH_SDS (200). Writes .bench/tls-serve.json. Run:
 * `npx tsx bench/tls-serve.ts` (or `sh bench/run.sh tls-serve`; build first).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AuthorizationClient } from '../src/generated/envoy/service/auth/v3/Authorization.js';
import type { CheckRequest } from '../src/generated/envoy/service/auth/v3/CheckRequest.js';
import type { SecretDiscoveryServiceClient } from '../src/generated/envoy/service/secret/v3/SecretDiscoveryService.js';
import { Admin, authClient, check, checkRequest, paiResource } from '../test/helpers/injector.js';
import { ROOT, adminToken, startServe, tempDir } from '../test/helpers/process.js';
import { SdsStreamClient, sdsRequest, secretsOf } from '../test/helpers/sds.js';
import { fetchLeaf, sansOf, sdsClient } from '../test/helpers/tls-serve.js';
import { type Figures, capacity, medians, percentile, printFigures, serial } from './lib.js';

const env = process.env;
const ROUNDS = Number(env['BENCH_ROUNDS'] ?? 3);
const SERIAL = Number(env['BENCH_SERIAL'] ?? 2000);
const CAPACITY = Number(env['BENCH_CAPACITY'] ?? 10_000);
const SDS = Number(env['BENCH_SDS'] ?? 200);
const STREAMS = Number(env['BENCH_STREAMS'] ?? 100);
const IN_FLIGHT = 100;
const TOKEN = `ghp_bench${'0123456789abcdef'.repeat(2)}`;

type Mode = 'no-sds' | 'sds-streams' | 'sds-churn';
const MODES: readonly Mode[] = ['no-sds', 'sds-streams', 'sds-churn'];

interface Latency {
  readonly n: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

async function timed(n: number, once: (i: number) => Promise<void>): Promise<Latency> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await once(i);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return { n, p50Ms: percentile(ms, 50), p99Ms: percentile(ms, 99) };
}

const CHECK: CheckRequest = checkRequest({
  agent: 'check-bot',
  method: 'GET',
  path: '/repos/myorg/my-repo/pulls',
  authority: 'api.github.com',
  scheme: 'https',
  headers: [
    ['user-agent', 'gh/2.63.0'],
    ['accept', 'application/vnd.github+json'],
  ],
});

async function checked(client: AuthorizationClient): Promise<void> {
  const res = await check(client, CHECK);
  const header = res.ok_response?.headers?.find((h) => h.header?.key === 'authorization')?.header;
  if (res.status?.code !== 0 || header?.value !== `Bearer ${TOKEN}`)
    throw new Error(`not injected: ${JSON.stringify(res.status)}`);
}

const github = (host?: string): Record<string, unknown> =>
  host === undefined
    ? { type: 'github', auth: { type: 'pat', secretRef: 'gh' } }
    : { type: 'http-token', host, auth: { type: 'api-key', secretRef: 'gh' } };

/** Opens an ACKed stream for `agent`; resolves once its first leaf arrived. */
async function openStream(sds: SecretDiscoveryServiceClient, agent: string): Promise<SdsStreamClient> {
  const stream = new SdsStreamClient(sds);
  stream.send(sdsRequest({ agent }));
  const first = await stream.next(30_000);
  if (secretsOf(first).length !== 1) throw new Error('no leaf');
  stream.send(sdsRequest({ agent, nonce: first.nonce ?? '', version: first.version_info ?? '' }));
  return stream;
}

async function sdsFigures(admin: Admin, sds: SecretDiscoveryServiceClient): Promise<Record<string, Latency>> {
  const out: Record<string, Latency> = {};
  const holder = await openStream(sds, 'warm-bot');
  out['fetch warm (answer only)'] = await timed(SDS, async () => void (await fetchLeaf(sds, 'warm-bot')));
  out['fetch cold (issue + answer)'] = await timed(SDS, async () => void (await fetchLeaf(sds, 'cold-bot')));
  const after: number[] = [];
  out['rebind push (PUT → new leaf on the stream)'] = await timed(Math.min(SDS, 50), async (i) => {
    const host = `api-${i}.bench.example.com`;
    await admin.apply(paiResource('Provider', 'extra', github(host)));
    const pushed = secretsOf(await holder.next(10_000))[0];
    if (!pushed || !sansOf(pushed.chainPem).includes(host)) throw new Error('the push lacks the new host');
    const t0 = process.hrtime.bigint();
    const fetched = await fetchLeaf(sds, 'warm-bot');
    after.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (!fetched.sans.includes(host)) throw new Error('the fetch after the change lacks the new host');
  });
  after.sort((a, b) => a - b);
  out['fetch after a binding change'] = { n: after.length, p50Ms: percentile(after, 50), p99Ms: percentile(after, 99) };
  holder.close();
  return out;
}

async function checkFigures(client: AuthorizationClient, sds: SecretDiscoveryServiceClient): Promise<Record<Mode, Figures>> {
  const perRound: Record<Mode, Figures[]> = { 'no-sds': [], 'sds-streams': [], 'sds-churn': [] };
  await capacity(() => checked(client), 2000, IN_FLIGHT); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of MODES.map((_, i) => MODES[(i + round) % MODES.length] ?? 'no-sds')) {
      const streams =
        mode === 'no-sds' ? [] : await Promise.all(Array.from({ length: STREAMS }, (_, i) => openStream(sds, `sds-bot-${i}`)));
      let churning = mode === 'sds-churn';
      const churn = (async () => {
        for (let i = 0; churning; i++) await fetchLeaf(sds, `churn-bot-${i % 10}`);
      })();
      const s = await serial(() => checked(client), SERIAL);
      const rps = await capacity(() => checked(client), CAPACITY, IN_FLIGHT);
      churning = false;
      await churn;
      for (const stream of streams) stream.close();
      perRound[mode].push({ ...s, capacityRps: rps });
    }
  }
  return medians(perRound);
}

async function main(): Promise<void> {
  const work = tempDir('pai-bench-tls-serve-');
  const server = await startServe({ dataDir: path.join(work, 'data'), env: { PAI_LOG_LEVEL: 'warn', PAI_CACHE_TTL: '5m' } });
  const client = authClient(server.injectorAddress());
  const sds = sdsClient(server);
  try {
    const admin = new Admin(server.adminUrl, adminToken(server.dataDir));
    await admin.createSecret('gh', { token: TOKEN });
    await admin.apply(
      paiResource('Provider', 'github', github()),
      paiResource('Provider', 'extra', github('api-x.bench.example.com')),
    );
    const agents = [
      'check-bot',
      'warm-bot',
      'cold-bot',
      ...Array.from({ length: STREAMS }, (_, i) => `sds-bot-${i}`),
      ...Array.from({ length: 10 }, (_, i) => `churn-bot-${i}`),
    ];
    for (const name of agents)
      await admin.apply(paiResource('Agent', name, { providers: name === 'warm-bot' ? ['github', 'extra'] : ['github'] }));

    const sdsResult = await sdsFigures(admin, sds);
    const checks = await checkFigures(client, sds);

    console.log(`\nTLS through pai serve: SDS over the injector socket, grpc-js clients (node ${process.version}); ms, serial`);
    for (const [k, f] of Object.entries(sdsResult))
      console.log(`  ${k.padEnd(44)} n=${String(f.n).padStart(4)}  p50 ${f.p50Ms.toFixed(2)}  p99 ${f.p99Ms.toFixed(2)}`);
    console.log(`\next_authz Check with SDS idle vs busy, same run, median of ${ROUNDS} rounds (${STREAMS} streams)`);
    printFigures(checks, 'no-sds', IN_FLIGHT);
    const outDir = path.join(ROOT, '.bench');
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(
      path.join(outDir, 'tls-serve.json'),
      JSON.stringify({ rounds: ROUNDS, serial: SERIAL, capacity: CAPACITY, streams: STREAMS, sds: sdsResult, checks }, null, 2) +
        '\n',
    );
  } finally {
    sds.close();
    client.close();
    await server.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();

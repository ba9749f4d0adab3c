/**
 * A Check whose Provider has a policy beside the same Check without one, in the same run, against
 * one real `pai serve` (the built binary) over its unix socket, with a grpc-js client, caches warm,
 * the request log on (its default, `requests.log` in the data dir):
 *
 *   no-policy   agent plain-bot → Provider github-plain (type github, no policy block)
 *   policy      agent policy-bot → Provider github-policy: a 20-action allow list, a deny list
 *               (admin:*, repo:delete, org:update) and scope.repositories of two repositories
 *
 * Both send GET /repos/myorg/my-repo/pulls to api.github.com with the headers Envoy sends. Issue 13
 * asks policy ≥ 0.9× no-policy capacity. Every answer is checked (OK, with the token); after the
 * runs the request log must hold a record per Check of both agents. BENCH_ROUNDS (3), BENCH_SERIAL
 * (3000), BENCH_CAPACITY (20000). Writes .bench/policy-check.json. Run: `npx tsx bench/policy-check.ts`
 * (or `sh bench/run.sh policy-check`; build first).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AuthorizationClient } from '../src/generated/envoy/service/auth/v3/Authorization.js';
import type { CheckRequest } from '../src/generated/envoy/service/auth/v3/CheckRequest.js';
import { Admin, authClient, check, checkRequest, paiResource } from '../test/helpers/injector.js';
import { ROOT, adminToken, startServe, tempDir } from '../test/helpers/process.js';
import { BENCH_GITHUB_ALLOW, BENCH_GITHUB_DENY, type Figures, capacity, medians, printFigures, serial } from './lib.js';

const env = process.env;
const ROUNDS = Number(env['BENCH_ROUNDS'] ?? 3);
const SERIAL = Number(env['BENCH_SERIAL'] ?? 3000);
const CAPACITY = Number(env['BENCH_CAPACITY'] ?? 20_000);
const IN_FLIGHT = 100;
const TOKEN = `ghp_bench${'0123456789abcdef'.repeat(2)}`;

type Mode = 'no-policy' | 'policy';
const MODES: readonly Mode[] = ['no-policy', 'policy'];

// What Envoy's ext_authz sends for a request through the sidecar (besides the pseudo-headers).
const ENVOY_HEADERS: [string, string][] = [
  ['user-agent', 'gh/2.63.0 (linux; amd64)'],
  ['accept', 'application/vnd.github+json'],
  ['x-github-api-version', '2022-11-28'],
  ['x-forwarded-proto', 'https'],
  ['x-request-id', '5f0c6f6e-4a36-4a5e-9a64-2a8f3e8f5c11'],
  ['x-envoy-expected-rq-timeout-ms', '15000'],
  ['accept-encoding', 'gzip'],
];

function requestFor(mode: Mode): CheckRequest {
  return checkRequest({
    agent: mode === 'policy' ? 'policy-bot' : 'plain-bot',
    method: 'GET',
    path: '/repos/myorg/my-repo/pulls?state=open&per_page=50',
    authority: 'api.github.com',
    scheme: 'https',
    headers: ENVOY_HEADERS,
  });
}

async function checked(client: AuthorizationClient, request: CheckRequest): Promise<void> {
  const res = await check(client, request);
  const header = res.ok_response?.headers?.find((h) => h.header?.key === 'authorization')?.header;
  if (res.status?.code !== 0 || header?.value !== `Bearer ${TOKEN}`) {
    throw new Error(`not injected: ${JSON.stringify(res.status)} ${res.denied_response?.body ?? ''}`);
  }
}

/** Records in the request log per agent (the log is written off the hot path; wait for the flush). */
async function recordsByAgent(file: string, want: number): Promise<Record<string, number>> {
  let counts: Record<string, number> = {};
  for (let i = 0; i < 50; i++) {
    counts = {};
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    for (const m of text.matchAll(/"agent":"([a-z-]+)"/g)) counts[m[1] ?? ''] = (counts[m[1] ?? ''] ?? 0) + 1;
    if (Object.values(counts).reduce((a, b) => a + b, 0) >= want) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return counts;
}

async function main(): Promise<void> {
  const work = tempDir('pai-bench-policy-');
  const dataDir = path.join(work, 'data');
  // A big request log: the benchmark writes ~130,000 records and must not measure rotations.
  const server = await startServe({
    dataDir,
    env: { PAI_LOG_LEVEL: 'info', PAI_CACHE_TTL: '5m', PAI_REQUEST_LOG_MAX: '1Gi', PAI_USAGE_FLUSH: '5s' },
  });
  const client = authClient(server.injectorAddress());
  try {
    const admin = new Admin(server.adminUrl, adminToken(server.dataDir));
    await admin.createSecret('github-pat', { token: TOKEN });
    const github = (name: string, extra: Record<string, unknown>): Record<string, unknown> =>
      paiResource('Provider', name, { type: 'github', auth: { type: 'pat', secretRef: 'github-pat' }, ...extra });
    await admin.apply(
      github('github-plain', {}),
      github('github-policy', {
        policy: { allow: BENCH_GITHUB_ALLOW, deny: BENCH_GITHUB_DENY },
        scope: { repositories: ['myorg/my-repo', 'myorg/docs'] },
      }),
      paiResource('Agent', 'plain-bot', { providers: ['github-plain'] }),
      paiResource('Agent', 'policy-bot', { providers: ['github-policy'] }),
    );
    const requests = { 'no-policy': requestFor('no-policy'), policy: requestFor('policy') };
    // The policy is live: the same agent's repository deletion is denied.
    const del = await check(
      client,
      checkRequest({ agent: 'policy-bot', method: 'DELETE', path: '/repos/myorg/my-repo', authority: 'api.github.com' }),
    );
    if (del.status?.code === 0 || !del.denied_response?.body?.includes('policy_denied'))
      throw new Error('DELETE of the repository was not denied');

    let sent = 1;
    const perRound: Record<Mode, Figures[]> = { 'no-policy': [], policy: [] };
    for (const mode of MODES) await capacity(() => checked(client, requests[mode]), 2000, IN_FLIGHT); // warm-up
    sent += 4000;
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? MODES : [...MODES].reverse();
      for (const mode of order) {
        const s = await serial(() => checked(client, requests[mode]), SERIAL);
        const rps = await capacity(() => checked(client, requests[mode]), CAPACITY, IN_FLIGHT);
        perRound[mode].push({ ...s, capacityRps: rps });
        sent += SERIAL + CAPACITY;
      }
    }
    const result = medians(perRound);
    const records = await recordsByAgent(path.join(dataDir, 'requests.log'), sent + 1);
    console.log(
      `\npolicy benchmark: ext_authz Check over the unix socket, grpc-js client, warm caches, request log on, median of ${ROUNDS} rounds (node ${process.version})`,
    );
    printFigures(result, 'no-policy', IN_FLIGHT);
    const ratio = result.policy.capacityRps / result['no-policy'].capacityRps;
    console.log(
      `  policy / no-policy capacity: ${ratio.toFixed(2)}× (issue 13 asks ≥ 0.90×); request log records: ${JSON.stringify(records)} for ${sent + 1} Checks\n`,
    );
    const outDir = path.join(ROOT, '.bench');
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(
      path.join(outDir, 'policy-check.json'),
      JSON.stringify(
        { rounds: ROUNDS, serial: SERIAL, capacity: CAPACITY, inFlight: IN_FLIGHT, result, perRound, ratio, records },
        null,
        2,
      ) + '\n',
    );
  } finally {
    client.close();
    await server.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();

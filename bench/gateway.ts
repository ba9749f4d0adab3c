/**
 * Gateway-mode Check beside sidecar-mode Check, in the same run, against one real `pai serve` (the
 * built binary) over its unix socket, with a grpc-js client (the same one the tests use), caches warm:
 *
 *   sidecar   context_extensions {pai.agent: bench-bot}, :authority api.openai.com
 *   gateway   {pai.mode: gateway, pai.modelprovider: openai}, Authorization: Bearer <agent token>
 *   gateway   the same with attributes.source.principal spiffe://pai/agent/bench-bot (mTLS client)
 *
 * For each: serial (one call at a time: µs per request, p50, p99) and capacity (100 calls in flight:
 * requests/s). BENCH_ROUNDS (3; medians are reported, the order rotates per round), BENCH_SERIAL
 * (3000), BENCH_CAPACITY (20000). Every answer is checked (OK, with the ModelProvider's key), and
 * after the runs the server's pai_gateway_requests_total{modelprovider="openai",outcome="inject"}
 * must equal the gateway Checks sent. Writes .bench/gateway.json. Run: `npx tsx bench/gateway.ts`
 * (or `sh bench/run.sh gateway`; build first).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AuthorizationClient } from '../src/generated/envoy/service/auth/v3/Authorization.js';
import type { CheckRequest } from '../src/generated/envoy/service/auth/v3/CheckRequest.js';
import { Admin, authClient, check, checkRequest, resource } from '../test/helpers/injector.js';
import { ROOT, adminToken, startServe, tempDir } from '../test/helpers/process.js';
import { type Figures, capacity, medians, printFigures, serial } from './lib.js';

const env = process.env;
const ROUNDS = Number(env['BENCH_ROUNDS'] ?? 3);
const SERIAL = Number(env['BENCH_SERIAL'] ?? 3000);
const CAPACITY = Number(env['BENCH_CAPACITY'] ?? 20_000);
const IN_FLIGHT = 100;
const OPENAI_KEY = `sk-bench-${'0123456789abcdef'.repeat(3)}`;

type Mode = 'sidecar' | 'gateway-token' | 'gateway-cert';
const MODES: readonly Mode[] = ['sidecar', 'gateway-token', 'gateway-cert'];

const COMMON_HEADERS: [string, string][] = [
  ['user-agent', 'OpenAI/Python 1.54.0'],
  ['content-type', 'application/json'],
  ['accept', 'application/json'],
  ['content-length', '812'],
  ['x-stainless-lang', 'python'],
  ['x-request-id', '5f0c6f6e-4a36-4a5e-9a64-2a8f3e8f5c11'],
];

function requestFor(mode: Mode, token: string): CheckRequest {
  if (mode === 'sidecar') {
    return checkRequest({
      agent: 'bench-bot',
      method: 'POST',
      path: '/v1/chat/completions',
      authority: 'api.openai.com',
      scheme: 'http',
      headers: [...COMMON_HEADERS, ['authorization', 'Bearer agent-own']],
    });
  }
  const base = checkRequest({
    method: 'POST',
    path: '/openai/v1/chat/completions',
    authority: 'pai-gateway:8080',
    scheme: 'https',
    headers: mode === 'gateway-token' ? [...COMMON_HEADERS, ['authorization', `Bearer ${token}`]] : COMMON_HEADERS,
    contextExtensions: { 'pai.mode': 'gateway', 'pai.modelprovider': 'openai' },
  });
  if (mode === 'gateway-token') return base;
  return { attributes: { ...base.attributes, source: { principal: 'spiffe://pai/agent/bench-bot' } } };
}

async function checked(client: AuthorizationClient, request: CheckRequest): Promise<void> {
  const res = await check(client, request);
  const header = res.ok_response?.headers?.[0]?.header;
  if (res.status?.code !== 0 || header?.key !== 'authorization' || header.value !== `Bearer ${OPENAI_KEY}`) {
    throw new Error(`not injected: ${JSON.stringify(res.status)} ${res.denied_response?.body ?? ''}`);
  }
}

async function gatewayInjected(admin: Admin): Promise<number> {
  const text = (await admin.expect(200, 'GET', '/metrics')).text;
  const m = /^pai_gateway_requests_total\{modelprovider="openai",outcome="inject"\} (\d+)$/m.exec(text);
  return Number(m?.[1] ?? 0);
}

async function main(): Promise<void> {
  const work = tempDir('pai-bench-gateway-');
  const server = await startServe({ dataDir: path.join(work, 'data'), env: { PAI_LOG_LEVEL: 'info', PAI_CACHE_TTL: '5m' } });
  const client = authClient(server.injectorAddress());
  try {
    const admin = new Admin(server.adminUrl, adminToken(server.dataDir));
    await admin.createSecret('openai-key', { 'api-key': OPENAI_KEY });
    await admin.apply(
      resource('ModelProvider', 'openai', { type: 'openai', apiKeySecretRef: { name: 'openai-key', key: 'api-key' } }),
      resource('Agent', 'bench-bot', { modelProviders: ['openai'] }),
    );
    const made = await admin.expect(201, 'POST', '/v1/tokens', { role: 'agent', agent: 'bench-bot' });
    const token = (made.json as { token: string }).token;
    const requests = Object.fromEntries(MODES.map((m) => [m, requestFor(m, token)])) as Record<Mode, CheckRequest>;

    const before = await gatewayInjected(admin);
    let gatewaySent = 0;
    const perRound: Record<Mode, Figures[]> = { sidecar: [], 'gateway-token': [], 'gateway-cert': [] };
    for (const mode of MODES) await capacity(() => checked(client, requests[mode]), 2000, IN_FLIGHT); // warm-up: JIT, caches
    gatewaySent += 4000;
    for (let round = 0; round < ROUNDS; round++) {
      const order = MODES.map((_, i) => MODES[(i + round) % MODES.length] ?? 'sidecar');
      for (const mode of order) {
        const s = await serial(() => checked(client, requests[mode]), SERIAL);
        const rps = await capacity(() => checked(client, requests[mode]), CAPACITY, IN_FLIGHT);
        perRound[mode].push({ ...s, capacityRps: rps });
        if (mode !== 'sidecar') gatewaySent += SERIAL + CAPACITY;
      }
    }
    const counted = (await gatewayInjected(admin)) - before;
    if (counted !== gatewaySent) throw new Error(`sent ${gatewaySent} gateway Checks, the server counted ${counted}`);

    const result = medians(perRound);
    console.log(
      `\ngateway benchmark: ext_authz Check over the unix socket, grpc-js client, warm caches, median of ${ROUNDS} rounds (node ${process.version})`,
    );
    printFigures(result, 'sidecar', IN_FLIGHT);
    console.log(`  verified: every answer injected; ${counted} gateway Checks counted by pai_gateway_requests_total\n`);
    const outDir = path.join(ROOT, '.bench');
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(
      path.join(outDir, 'gateway.json'),
      JSON.stringify({ rounds: ROUNDS, serial: SERIAL, capacity: CAPACITY, inFlight: IN_FLIGHT, result, perRound }, null, 2) +
        '\n',
    );
  } finally {
    client.close();
    await server.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();

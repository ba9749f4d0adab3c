/**
 * The two deployment modes of docs/ENVOY.md side by side, in one run, against the built binary:
 *
 *   sidecar  one `pai serve --role injector` per pod: the unix socket, the agent from `pai.agent`
 *   shared   one injector for BENCH_AGENTS pods: 127.0.0.1 over mTLS, the agent from each pod's
 *            SPIFFE client certificate (one grpc-js channel, i.e. one TLS connection, per agent)
 *
 * Latency: serial Check (µs per request, p50, p99) and capacity (100 in flight; the shared mode
 * spreads the calls over every agent's connection), median of BENCH_ROUNDS (3) rounds, the order
 * rotating per round. Memory: VmRSS of each injector process idle (seeded and warmed by 200
 * Checks) and after the load; the shared figure is also divided by the number of agents it serves.
 * Every answer is checked (the agent's own credential). Both injectors read the same local store
 * (an admin process on the same data dir). BENCH_AGENTS (50), BENCH_SERIAL (3000), BENCH_CAPACITY
 * (20000). Writes .bench/shared.json. Run: `npx tsx bench/shared.ts` (or `sh bench/run.sh shared`;
 * `make build` first). Envoy itself is not run here: its memory is not part of these figures.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadEnvoyServices } from '../src/injector/protos.js';
import type { AuthorizationClient } from '../src/generated/envoy/service/auth/v3/Authorization.js';
import type { CheckRequest } from '../src/generated/envoy/service/auth/v3/CheckRequest.js';
import { Admin, authClient, check, checkRequest, resource } from '../test/helpers/injector.js';
import { ROOT, type ServeHandle, adminToken, startServe, tempDir } from '../test/helpers/process.js';
import { issueClientCert, makeTestPki } from '../test/helpers/tls-certs.js';
import { type Figures, capacity, medians, printFigures, serial } from './lib.js';

const env = process.env;
const ROUNDS = Number(env['BENCH_ROUNDS'] ?? 3);
const SERIAL = Number(env['BENCH_SERIAL'] ?? 3000);
const CAPACITY = Number(env['BENCH_CAPACITY'] ?? 20_000);
const AGENTS = Number(env['BENCH_AGENTS'] ?? 50);
const IN_FLIGHT = 100;
const HOST = 'api.bench.test';
const KEY = `bench-${'0123456789abcdef'.repeat(3)}`;

type Mode = 'sidecar-unix' | 'shared-mtls';
const MODES: readonly Mode[] = ['sidecar-unix', 'shared-mtls'];

const HEADERS: [string, string][] = [
  ['user-agent', 'bench/1.0'],
  ['content-type', 'application/json'],
  ['accept', 'application/json'],
  ['x-request-id', '5f0c6f6e-4a36-4a5e-9a64-2a8f3e8f5c11'],
];

const agentName = (i: number): string => `bench-${String(i).padStart(3, '0')}`;

function requestOf(agent: string): CheckRequest {
  return checkRequest({ agent, method: 'POST', path: '/v1/items', authority: HOST, scheme: 'http', headers: HEADERS });
}

async function checked(client: AuthorizationClient, request: CheckRequest): Promise<void> {
  const res = await check(client, request);
  const header = res.ok_response?.headers?.[0]?.header;
  if (res.status?.code !== 0 || header?.key !== 'authorization' || header.value !== `Bearer ${KEY}`) {
    throw new Error(`not injected: ${JSON.stringify(res.status)} ${res.denied_response?.body ?? ''}`);
  }
}

/** VmRSS of a process in MiB (Linux /proc). */
function rssMiB(handle: ServeHandle): number {
  const status = fs.readFileSync(`/proc/${handle.child.pid ?? 0}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

async function main(): Promise<void> {
  const work = tempDir('pai-bench-shared-');
  const pkiDir = path.join(work, 'pki');
  fs.mkdirSync(pkiDir);
  const pki = makeTestPki(pkiDir);
  const closers: (() => Promise<unknown> | void)[] = [];
  try {
    const admin = await startServe({
      dataDir: path.join(work, 'data'),
      args: ['--role', 'admin'],
      env: { PAI_LOG_LEVEL: 'warn' },
    });
    closers.push(() => admin.stop());
    const api = new Admin(admin.adminUrl, adminToken(admin.dataDir));
    await api.createSecret('bench-key', { token: KEY });
    await api.apply(resource('Provider', 'bench-api', { type: 'http', hosts: [HOST], auth: { secretRef: 'bench-key' } }));
    for (let i = 0; i < AGENTS; i++) await api.apply(resource('Agent', agentName(i), { providers: ['bench-api'] }));
    const common = { PAI_LOG_LEVEL: 'warn', PAI_CACHE_TTL: '5m', PAI_REQUEST_LOG: 'off' };
    const sidecar = await startServe({ dataDir: admin.dataDir, args: ['--role', 'injector'], env: common });
    closers.push(() => sidecar.stop());
    const shared = await startServe({
      dataDir: admin.dataDir,
      args: ['--role', 'injector'],
      env: {
        ...common,
        PAI_INJECTOR_LISTEN: '127.0.0.1:0',
        PAI_INJECTOR_TLS_CERT: pki.serverCert,
        PAI_INJECTOR_TLS_KEY: pki.serverKey,
        PAI_INJECTOR_TLS_CLIENT_CA: pki.caCert,
      },
    });
    closers.push(() => shared.stop());

    const unixClient = authClient(sidecar.injectorAddress());
    closers.push(() => unixClient.close());
    const { auth } = loadEnvoyServices();
    const ca = fs.readFileSync(pki.caCert);
    const sharedClients: { client: AuthorizationClient; request: CheckRequest }[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const pair = issueClientCert(pki, agentName(i), [`spiffe://pai/agent/${agentName(i)}`]);
      const creds = grpc.credentials.createSsl(ca, fs.readFileSync(pair.key), fs.readFileSync(pair.cert));
      const client = new auth.envoy.service.auth.v3.Authorization(shared.injectorAddress(), creds, {
        'grpc.ssl_target_name_override': 'localhost',
        'grpc.default_authority': 'localhost',
        'grpc.use_local_subchannel_pool': 1,
      });
      closers.push(() => client.close());
      sharedClients.push({ client, request: requestOf(agentName(i)) });
    }
    const first = sharedClients[0];
    if (first === undefined) throw new Error('BENCH_AGENTS must be at least 1');
    const sidecarRequest = requestOf(agentName(0));
    let next = 0;
    const call: Record<Mode, { one: () => Promise<void>; spread: () => Promise<void> }> = {
      'sidecar-unix': { one: () => checked(unixClient, sidecarRequest), spread: () => checked(unixClient, sidecarRequest) },
      'shared-mtls': {
        one: () => checked(first.client, first.request),
        spread: () => {
          const c = sharedClients[next++ % sharedClients.length] ?? first;
          return checked(c.client, c.request);
        },
      },
    };

    // Idle: every agent's connection open and its agent cached once (200 Checks per injector).
    for (const c of sharedClients) await checked(c.client, c.request);
    await capacity(call['sidecar-unix'].spread, 200, 10);
    await capacity(call['shared-mtls'].spread, 200, 10);
    const idle = { sidecar: rssMiB(sidecar), shared: rssMiB(shared) };

    for (const mode of MODES) await capacity(call[mode].spread, 2000, IN_FLIGHT); // warm-up: JIT
    const perRound: Record<Mode, Figures[]> = { 'sidecar-unix': [], 'shared-mtls': [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = MODES.map((_, i) => MODES[(i + round) % MODES.length] ?? 'sidecar-unix');
      for (const mode of order) {
        const s = await serial(call[mode].one, SERIAL);
        const rps = await capacity(call[mode].spread, CAPACITY, IN_FLIGHT);
        perRound[mode].push({ ...s, capacityRps: rps });
      }
    }
    const loaded = { sidecar: rssMiB(sidecar), shared: rssMiB(shared) };
    const checks = 2200 + ROUNDS * (SERIAL + CAPACITY);

    const result = medians(perRound);
    console.log(
      `\nshared-injector benchmark: Check over the unix socket (sidecar mode) vs over mTLS on 127.0.0.1 (shared mode, ` +
        `${AGENTS} agents, one TLS connection each), grpc-js clients, warm caches, median of ${ROUNDS} rounds (node ${process.version})`,
    );
    printFigures(result, 'sidecar-unix', IN_FLIGHT);
    const mib = (x: number): string => `${x.toFixed(1)} MiB`;
    console.log(`\n  injector RSS (VmRSS)       idle        after ${checks} Checks`);
    console.log(`  sidecar mode, per pod      ${mib(idle.sidecar).padEnd(10)}  ${mib(loaded.sidecar)}`);
    console.log(`  shared mode, the process   ${mib(idle.shared).padEnd(10)}  ${mib(loaded.shared)}`);
    console.log(`  shared mode, per pod (/${AGENTS})  ${mib(idle.shared / AGENTS).padEnd(10)}  ${mib(loaded.shared / AGENTS)}`);
    const load = os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ');
    console.log(`  load average at the end (1, 5, 15 min; ${os.cpus().length} cores): ${load}`);
    console.log("  verified: every answer carried the agent's credential; Envoy is not run here (not included)\n");
    const outDir = path.join(ROOT, '.bench');
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(
      path.join(outDir, 'shared.json'),
      JSON.stringify(
        {
          rounds: ROUNDS,
          serial: SERIAL,
          capacity: CAPACITY,
          inFlight: IN_FLIGHT,
          agents: AGENTS,
          result,
          perRound,
          rssMiB: { idle, loaded },
          loadAverage: os.loadavg(),
        },
        null,
        2,
      ) + '\n',
    );
  } finally {
    for (const close of closers.reverse()) await close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();

/**
 * Injector benchmark: ext_authz Check under h2load, against a real `pai serve` with a warm cache
 * and, in the same run, a no-op grpc-js Check server (same proto, same server options, answers OK at
 * once): the floor that Node and grpc-js set. Each figure is reported as a ratio to that floor.
 *
 *   serial      h2load -c1 -m1: p50 and p99 latency            target p50 ≤ 1.3× the floor
 *   capacity    h2load -c4 -m25 (100 in flight): requests/s    target ≥ 0.85× the floor
 *   fixed rate  h2load -c10 -m10 --rps 100 (1000 req/s): p99   target ≤ 1.5× the floor
 *
 * h2load sends gRPC unary calls as `-d FILE` (a 0x00 byte, a 4-byte big-endian length, the
 * serialized CheckRequest) with content-type application/grpc and te: trailers. It reads neither
 * trailers nor bodies, so a gRPC error would count as a success: before the runs one call per
 * server is checked with grpc-js and one with node:http2 on the exact bytes h2load sends (grpc-status
 * 0 and, for the injector, the credential in the response), and after them the injector's
 * pai_injector_requests_total{outcome="inject"} and the no-op server's call count must equal what
 * h2load sent.
 *
 * Transport: BENCH_TRANSPORT=unix (default; the socket the sidecar uses, which h2load ≥ 1.40 reaches
 * with `-B unix:PATH`) or tcp (127.0.0.1 with PAI_INJECTOR_INSECURE_LOOPBACK_TCP_FOR_BENCHMARKS_ONLY).
 * Other knobs: BENCH_ROUNDS (3; medians are reported), BENCH_SERIAL (5000 requests), BENCH_CAPACITY
 * (60000), BENCH_RATE_SECONDS (10), BENCH_CPU_PROF=DIR (both servers write a .cpuprofile there).
 * BENCH_STRICT=1 exits 1 when a target is missed. Writes .bench/injector.json.
 * Run: `npx tsx bench/injector.ts` (or `make bench`).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { INSECURE_TCP_VAR } from '../src/config.js';
import { loadEnvoyServices } from '../src/injector/protos.js';
import type { CheckRequest } from '../src/generated/envoy/service/auth/v3/CheckRequest.js';
import type { CheckResponse } from '../src/generated/envoy/service/auth/v3/CheckResponse.js';
import { Admin, authClient, check, checkRequest, resource } from '../test/helpers/injector.js';
import { PAI_NODE_FLAGS, ROOT, adminToken, startServe, tempDir } from '../test/helpers/process.js';

const env = process.env;
const ROUNDS = Number(env['BENCH_ROUNDS'] ?? 3);
const SERIAL = Number(env['BENCH_SERIAL'] ?? 5000);
const CAPACITY = Number(env['BENCH_CAPACITY'] ?? 60_000);
const RATE_SECONDS = Number(env['BENCH_RATE_SECONDS'] ?? 10);
const TRANSPORT = env['BENCH_TRANSPORT'] === 'tcp' ? 'tcp' : 'unix';
const METHOD = '/envoy.service.auth.v3.Authorization/Check';
const TARGETS = { capacity: 0.85, serialP50: 1.3, rateP99: 1.5 };
const GITHUB_TOKEN = `ghp_${'0123456789abcdefghij'.repeat(2)}`;

// ---------------------------------------------------------------------------------------------
// The no-op server (this file, run as a child with `noop-server <address>`).

async function noopServer(address: string): Promise<void> {
  const { auth } = loadEnvoyServices();
  // The same options as the injector's grpc.Server (src/injector/server.ts).
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    'grpc.max_send_message_length': 16 * 1024 * 1024,
  });
  let calls = 0;
  const ok: CheckResponse = { status: { code: 0 }, ok_response: {} };
  server.addService(auth.envoy.service.auth.v3.Authorization.service, {
    Check: (_call: unknown, callback: grpc.sendUnaryData<CheckResponse>) => {
      calls++;
      callback(null, ok);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  process.stdout.write(`listening ${address.startsWith('unix:') ? address : `127.0.0.1:${port}`}\n`);
  process.stdin.on('data', () => process.stdout.write(`calls ${calls}\n`));
  process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
}

interface Noop {
  readonly address: string;
  readonly pid: number | undefined;
  calls(): Promise<number>;
  /** SIGTERM, then resolves when the process has exited (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

function startNoop(listen: string, extraEnv: Record<string, string>): Promise<Noop> {
  const child: ChildProcess = spawn(
    process.execPath,
    // The same node flags as `pai serve` (bin/pai.js's exec line), so the floor runs on the same heap settings.
    [...PAI_NODE_FLAGS, ...process.execArgv, fileURLToPath(import.meta.url), 'noop-server', listen],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, ...extraEnv },
    },
  );
  let out = '';
  const waiters: ((line: string) => void)[] = [];
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`no-op server exited with ${code}`)));
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      let nl: number;
      while ((nl = out.indexOf('\n')) !== -1) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const listening = /^listening (\S+)$/.exec(line);
        if (listening?.[1]) {
          resolve({
            address: listening[1],
            pid: child.pid,
            calls: () =>
              new Promise((res) => {
                waiters.push((l) => res(Number(l.slice('calls '.length))));
                child.stdin?.write('\n');
              }),
            stop: () =>
              new Promise<void>((res) => {
                if (child.exitCode !== null || child.signalCode !== null) return res();
                const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
                child.once('exit', () => {
                  clearTimeout(timer);
                  res();
                });
                child.kill('SIGTERM');
              }),
          });
        } else if (line.startsWith('calls ')) waiters.shift()?.(line);
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// h2load.

interface H2Result {
  readonly requests: number;
  readonly reqPerSec: number;
  readonly latenciesUs: number[];
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
};

const execFileAsync = promisify(execFile);

/**
 * Runs h2load against `address` (host:port or unix:/path); throws unless every request got HTTP 200.
 * Asynchronous on purpose: a blocked event loop would let keep-alive sockets to the admin API go
 * stale unnoticed.
 */
async function h2load(address: string, dataFile: string, logFile: string, args: string[]): Promise<H2Result> {
  const target = address.startsWith('unix:') ? ['-B', address, `http://localhost${METHOD}`] : [`http://${address}${METHOD}`];
  const argv = [
    '-H',
    'content-type: application/grpc',
    '-H',
    'te: trailers',
    '-d',
    dataFile,
    '--log-file',
    logFile,
    ...args,
    ...target,
  ];
  const { stdout: out } = await execFileAsync('h2load', argv, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const done = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const rate = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const total = Number(done?.[1]);
  if (!done || !codes || !rate || Number(done[3]) !== total || Number(codes[1]) !== total) {
    throw new Error(`h2load ${argv.join(' ')} did not succeed on every request:\n${out}`);
  }
  const latenciesUs = fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => Number(line.split('\t')[2]))
    .sort((a, b) => a - b);
  return { requests: total, reqPerSec: Number(rate[1]), latenciesUs };
}

interface Figures {
  serialP50Us: number;
  serialP99Us: number;
  capacityRps: number;
  /** Server CPU time (user + system) per Check during the capacity run: immune to a busy machine. */
  cpuPerCheckUs: number;
  rateP50Us: number;
  rateP99Us: number;
}

/** One round of the three measurements against `address`; returns the figures and the requests sent. */
/** CPU time (user + system) `pid` has used so far, in µs; NaN where /proc is not available. */
function cpuUs(pid: number | undefined): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime are fields 14 and 15 of /proc/PID/stat, in clock ticks (USER_HZ, 100 on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return NaN;
  }
}

async function measure(
  address: string,
  pid: number | undefined,
  dataFile: string,
  work: string,
): Promise<{ figures: Figures; sent: number }> {
  const log = path.join(work, 'h2load.log');
  let sent = 0;
  const run = async (args: string[]): Promise<H2Result> => {
    const r = await h2load(address, dataFile, log, args);
    sent += r.requests;
    return r;
  };
  await run(['-n', '5000', '-c', '4', '-m', '25']); // warm-up: JIT, connections, caches
  const serial = await run(['-n', String(SERIAL), '-c', '1', '-m', '1']);
  const cpuBefore = cpuUs(pid);
  const capacity = await run(['-n', String(CAPACITY), '-c', '4', '-m', '25']);
  const cpuPerCheckUs = (cpuUs(pid) - cpuBefore) / capacity.requests;
  const rate = await run(['-n', String(1000 * RATE_SECONDS), '-c', '10', '-m', '10', '--rps', '100']);
  return {
    figures: {
      serialP50Us: percentile(serial.latenciesUs, 50),
      serialP99Us: percentile(serial.latenciesUs, 99),
      capacityRps: capacity.reqPerSec,
      cpuPerCheckUs,
      rateP50Us: percentile(rate.latenciesUs, 50),
      rateP99Us: percentile(rate.latenciesUs, 99),
    },
    sent,
  };
}

// ---------------------------------------------------------------------------------------------
// Checks that the requests h2load sends are what we think they are.

/** One unary call with node:http2 on the exact bytes h2load sends; resolves with grpc-status and the message. */
function rawCall(address: string, frame: Buffer): Promise<{ grpcStatus: string | undefined; message: Buffer }> {
  return new Promise((resolve, reject) => {
    const session = address.startsWith('unix:')
      ? http2.connect('http://localhost', { createConnection: () => net.connect(address.slice('unix:'.length)) })
      : http2.connect(`http://${address}`);
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': METHOD, 'content-type': 'application/grpc', te: 'trailers' });
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    req.on('trailers', (t) => (grpcStatus = String(t['grpc-status'])));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      session.close();
      const body = Buffer.concat(chunks);
      resolve({ grpcStatus, message: body.subarray(5, 5 + (body.length >= 5 ? body.readUInt32BE(1) : 0)) });
    });
    req.on('error', reject);
    req.end(frame);
  });
}

async function verify(
  name: string,
  address: string,
  request: CheckRequest,
  frame: Buffer,
  expectCredential: boolean,
): Promise<void> {
  const { auth } = loadEnvoyServices();
  const client = authClient(address);
  try {
    const res = await check(client, request);
    const raw = await rawCall(address, frame);
    if (res.status?.code !== 0 || raw.grpcStatus !== '0')
      throw new Error(`${name}: Check did not answer OK (${JSON.stringify(res.status)}, grpc-status ${raw.grpcStatus})`);
    const decoded = auth.envoy.service.auth.v3.Authorization.service.Check.responseDeserialize(raw.message);
    const header = decoded.ok_response?.headers?.[0]?.header;
    if (expectCredential && (header?.key !== 'authorization' || header.value !== `Bearer ${GITHUB_TOKEN}`)) {
      throw new Error(`${name}: the h2load request was not injected: ${JSON.stringify(decoded)}`);
    }
  } finally {
    client.close();
  }
}

/** pai_injector_requests_total for check/inject/github, read from the admin API. */
async function injectedCount(admin: Admin): Promise<number> {
  const text = (await admin.expect(200, 'GET', '/metrics')).text;
  const m = /^pai_injector_requests_total\{api="check",outcome="inject",type="github"\} (\d+)$/m.exec(text);
  return Number(m?.[1] ?? 0);
}

// ---------------------------------------------------------------------------------------------

function table(floor: Figures, injector: Figures): { rows: string[][]; met: boolean } {
  const r = (a: number, b: number): number => a / b;
  const ratios = {
    serialP50: r(injector.serialP50Us, floor.serialP50Us),
    serialP99: r(injector.serialP99Us, floor.serialP99Us),
    capacity: r(injector.capacityRps, floor.capacityRps),
    cpu: r(injector.cpuPerCheckUs, floor.cpuPerCheckUs),
    rateP50: r(injector.rateP50Us, floor.rateP50Us),
    rateP99: r(injector.rateP99Us, floor.rateP99Us),
  };
  const ok = (pass: boolean): string => (pass ? 'met' : 'MISSED');
  const us = (n: number): string => `${Math.round(n)} µs`;
  const rows = [
    ['measure', 'no-op floor', 'injector', 'ratio', 'target', ''],
    [
      'serial p50 (-c1 -m1)',
      us(floor.serialP50Us),
      us(injector.serialP50Us),
      ratios.serialP50.toFixed(2),
      `≤ ${TARGETS.serialP50}`,
      ok(ratios.serialP50 <= TARGETS.serialP50),
    ],
    ['serial p99 (-c1 -m1)', us(floor.serialP99Us), us(injector.serialP99Us), ratios.serialP99.toFixed(2), '', ''],
    [
      'capacity, 100 in flight',
      `${Math.round(floor.capacityRps)} req/s`,
      `${Math.round(injector.capacityRps)} req/s`,
      ratios.capacity.toFixed(2),
      `≥ ${TARGETS.capacity}`,
      ok(ratios.capacity >= TARGETS.capacity),
    ],
    [
      '  server CPU per Check',
      `${floor.cpuPerCheckUs.toFixed(1)} µs`,
      `${injector.cpuPerCheckUs.toFixed(1)} µs`,
      ratios.cpu.toFixed(2),
      '',
      '',
    ],
    ['p50 at 1000 req/s', us(floor.rateP50Us), us(injector.rateP50Us), ratios.rateP50.toFixed(2), '', ''],
    [
      'p99 at 1000 req/s',
      us(floor.rateP99Us),
      us(injector.rateP99Us),
      ratios.rateP99.toFixed(2),
      `≤ ${TARGETS.rateP99}`,
      ok(ratios.rateP99 <= TARGETS.rateP99),
    ],
  ];
  return {
    rows,
    met: ratios.serialP50 <= TARGETS.serialP50 && ratios.capacity >= TARGETS.capacity && ratios.rateP99 <= TARGETS.rateP99,
  };
}

/**
 * A `--import` data: URL that profiles the process it is loaded into and writes the V8 CPU profile
 * into `dir` at exit. `--cpu-prof` itself is not allowed in NODE_OPTIONS, `--import` is, and the
 * in-process inspector session answers synchronously, so the exit handler can write the file.
 */
function profilerImport(dir: string, name: string): string {
  const code = [
    "import inspector from 'node:inspector';",
    "import fs from 'node:fs';",
    'const s = new inspector.Session();',
    's.connect();',
    "s.post('Profiler.enable');",
    "s.post('Profiler.start');",
    "process.on('exit', () => s.post('Profiler.stop', (err, r) => {",
    `  if (!err) fs.writeFileSync(${JSON.stringify(`${dir}/${name}-`)} + process.pid + '.cpuprofile', JSON.stringify(r.profile));`,
    '}));',
  ].join('\n');
  return `data:text/javascript;base64,${Buffer.from(code).toString('base64')}`;
}

async function main(): Promise<void> {
  execFileSync('h2load', ['--version'], { stdio: 'ignore' });
  const work = tempDir('pai-bench-injector-');
  const dataDir = path.join(work, 'data');
  const listenEnv: Record<string, string> =
    TRANSPORT === 'tcp' ? { PAI_INJECTOR_LISTEN: '127.0.0.1:0', [INSECURE_TCP_VAR]: '1' } : {};
  const profDir = env['BENCH_CPU_PROF'];
  const profEnv = (name: string): Record<string, string> =>
    profDir ? { NODE_OPTIONS: `--import=${profilerImport(path.resolve(profDir), name)}` } : {};
  const server = await startServe({
    dataDir,
    env: { PAI_LOG_LEVEL: 'info', PAI_CACHE_TTL: '30s', ...listenEnv, ...profEnv('injector') },
  });
  const noop = await startNoop(TRANSPORT === 'tcp' ? '127.0.0.1:0' : `unix:${path.join(work, 'noop.sock')}`, profEnv('noop'));
  try {
    const injector = server.injectorAddress();
    const admin = new Admin(server.adminUrl, adminToken(dataDir));
    await admin.createSecret('github-pat', { token: GITHUB_TOKEN });
    await admin.apply(
      resource('Provider', 'github', { type: 'github', auth: { secretRef: 'github-pat' } }),
      resource('Agent', 'bench-bot', { providers: ['github'] }),
    );

    // What an agent's request to the GitHub API looks like by the time Envoy asks.
    const request = checkRequest({
      agent: 'bench-bot',
      method: 'POST',
      path: '/repos/pai/agents/issues?per_page=50',
      authority: 'api.github.com',
      scheme: 'http',
      headers: [
        ['user-agent', 'pai-agent/1.0 (node)'],
        ['accept', 'application/vnd.github+json'],
        ['content-type', 'application/json'],
        ['content-length', '512'],
        ['authorization', 'Bearer agent-own'],
        ['x-github-api-version', '2022-11-28'],
        ['x-request-id', '5f0c6f6e-4a36-4a5e-9a64-2a8f3e8f5c11'],
        ['x-forwarded-proto', 'http'],
      ],
    });
    const { auth } = loadEnvoyServices();
    const message = auth.envoy.service.auth.v3.Authorization.service.Check.requestSerialize(request);
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    const dataFile = path.join(work, 'check-request.bin');
    fs.writeFileSync(dataFile, frame);

    await verify('injector', injector, request, frame, true);
    await verify('no-op', noop.address, request, frame, false);
    const injectedBefore = await injectedCount(admin);
    const noopBefore = await noop.calls();

    const floors: Figures[] = [];
    const injectors: Figures[] = [];
    let sentInjector = 0;
    let sentNoop = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so that neither always runs on a cooler (or hotter) machine.
      const order = round % 2 === 0 ? (['noop', 'injector'] as const) : (['injector', 'noop'] as const);
      for (const which of order) {
        const m = await measure(
          which === 'noop' ? noop.address : injector,
          which === 'noop' ? noop.pid : server.child.pid,
          dataFile,
          work,
        );
        if (which === 'noop') {
          floors.push(m.figures);
          sentNoop += m.sent;
        } else {
          injectors.push(m.figures);
          sentInjector += m.sent;
        }
      }
    }
    const injected = (await injectedCount(admin)) - injectedBefore;
    const noopCalls = (await noop.calls()) - noopBefore;
    if (injected !== sentInjector) throw new Error(`h2load sent ${sentInjector} Checks but the injector injected ${injected}`);
    if (noopCalls !== sentNoop) throw new Error(`h2load sent ${sentNoop} Checks but the no-op server answered ${noopCalls}`);

    const med = (xs: Figures[], k: keyof Figures): number => median(xs.map((x) => x[k]));
    const keys: (keyof Figures)[] = ['serialP50Us', 'serialP99Us', 'capacityRps', 'cpuPerCheckUs', 'rateP50Us', 'rateP99Us'];
    const floor = Object.fromEntries(keys.map((k) => [k, med(floors, k)])) as unknown as Figures;
    const inj = Object.fromEntries(keys.map((k) => [k, med(injectors, k)])) as unknown as Figures;
    const { rows, met } = table(floor, inj);
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
    console.log(
      `\ninjector benchmark: ext_authz Check over ${TRANSPORT}, warm cache, median of ${ROUNDS} rounds (node ${process.version}, ${execFileSync('h2load', ['--version'], { encoding: 'utf8' }).trim()})`,
    );
    for (const row of rows) console.log(`  ${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ')}`);
    console.log(
      `  verified: ${injected} Checks injected (pai_injector_requests_total), ${noopCalls} answered by the no-op server; targets ${met ? 'met' : 'MISSED'}\n`,
    );

    const outDir = path.join(ROOT, '.bench');
    fs.mkdirSync(outDir, { recursive: true });
    const results = {
      transport: TRANSPORT,
      rounds: ROUNDS,
      floor,
      injector: inj,
      perRound: { floors, injectors },
      targets: TARGETS,
      met,
    };
    fs.writeFileSync(path.join(outDir, 'injector.json'), JSON.stringify(results, null, 2) + '\n');
    if (!met && env['BENCH_STRICT'] === '1') process.exitCode = 1;
  } finally {
    await noop.stop();
    await server.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'noop-server') await noopServer(process.argv[3] ?? '127.0.0.1:0');
else await main();

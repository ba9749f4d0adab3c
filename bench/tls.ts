/**
 * TLS interception core: how long a leaf takes to issue, and how long Envoy waits for its
 * certificate over SDS.
 *
 *   issue      issueLeaf() in process, ECDSA P-256 key + signature, for an agent with N hosts:
 *              1, 3 (a github agent), 10, 40 (many Providers / AWS services) and 100
 *   sds cold   StreamSecrets: open a stream for an agent nobody watches yet, send the first
 *              request, receive the certificate (leaf issued on the way), close
 *   sds warm   the same for an agent another stream already watches (leaf from the book: encoding
 *              and transport only)
 *   fetch      FetchSecrets (unary; a leaf that is not kept is issued for each call)
 *
 * The SDS service runs in this process on a unix socket, with a grpc-js client built from Envoy's
 * protos (the test client): client and server share one event loop, so the figures include both
 * sides' work. Every answer is checked (one pai-leaf with a chain of two certificates and a key).
 * BENCH_ISSUE (1000), BENCH_SDS (300). Writes .bench/tls.json. Run: `npx tsx bench/tls.ts`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../src/log.js';
import { openSigningCa } from '../src/tls/ca.js';
import { activeEntry, initialCa } from '../src/tls/ca-state.js';
import { issueLeaf } from '../src/tls/leaf.js';
import { ROOT } from '../test/helpers/process.js';
import { SdsStreamClient, type SdsFixture, fetchSecrets, sdsRequest, secretsOf, startSds } from '../test/helpers/sds.js';

const ISSUE = Number(process.env['BENCH_ISSUE'] ?? 1000);
const SDS = Number(process.env['BENCH_SDS'] ?? 300);

interface Figures {
  readonly n: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
}

async function measure(n: number, once: (i: number) => Promise<void>): Promise<Figures> {
  for (let i = 0; i < Math.min(20, n); i++) await once(-1 - i); // warm-up (JIT, sockets)
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await once(i);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  const at = (p: number): number => ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))] ?? NaN;
  return { n, p50Ms: at(50), p99Ms: at(99), meanMs: ms.reduce((a, b) => a + b, 0) / n };
}

function hosts(n: number): string[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? '*.googleapis.com' : `svc-${i}.us-east-1.amazonaws.com`));
}

function checkAnswer(res: Parameters<typeof secretsOf>[0]): void {
  const [secret, ...rest] = secretsOf(res);
  const certs = secret?.chainPem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  if (!secret || rest.length > 0 || secret.name !== 'pai-leaf' || certs !== 2 || !secret.keyPem.includes('PRIVATE KEY')) {
    throw new Error('unexpected SDS answer');
  }
}

async function streamOnce(sds: SdsFixture, agent: string): Promise<void> {
  const stream = new SdsStreamClient(sds.client);
  stream.send(sdsRequest({ agent }));
  checkAnswer(await stream.next());
  stream.close();
  await stream.status;
}

async function main(): Promise<void> {
  const stored = await initialCa(Date.now());
  const active = activeEntry(stored);
  const signer = await openSigningCa(active.certPem, active.key);
  const agent = { namespace: 'default', name: 'bench-bot' };
  const three = ['api.github.com', 'uploads.github.com', 'github.com'];
  const result: Record<string, Figures> = {};
  // N hosts: 1 (one ModelProvider), 3 (github), 10-40 (several Providers, AWS services), 100 (an outlier).
  for (const n of [1, 3, 10, 40, 100]) {
    const names = n === 3 ? three : hosts(n);
    result[`issue ${n} hosts`] = await measure(ISSUE, async () => void (await issueLeaf(signer, agent, names, Date.now())));
  }

  const sds = await startSds({ logger: silentLogger() });
  try {
    for (let i = -20; i < SDS; i++) sds.hosts.set(`cold-${i}`, three);
    sds.hosts.set('warm', three);
    result['sds cold (issue + answer)'] = await measure(SDS, (i) => streamOnce(sds, `cold-${i}`));
    const holder = new SdsStreamClient(sds.client); // keeps the warm agent's leaf in the book
    holder.send(sdsRequest({ agent: 'warm' }));
    checkAnswer(await holder.next());
    result['sds warm (answer only)'] = await measure(SDS, () => streamOnce(sds, 'warm'));
    holder.close();
    result['fetch (issue + answer)'] = await measure(SDS, async () =>
      checkAnswer(await fetchSecrets(sds.client, sdsRequest({ agent: 'cold-0' }))),
    );
  } finally {
    await sds.close();
  }

  console.log(`\nTLS benchmark (node ${process.version}); ms per operation, serial`);
  const rows = [
    ['', 'n', 'p50', 'p99', 'mean'],
    ...Object.entries(result).map(([k, f]) => [k, String(f.n), f.p50Ms.toFixed(2), f.p99Ms.toFixed(2), f.meanMs.toFixed(2)]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const row of rows)
    console.log(`  ${row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')}`);
  const outDir = path.join(ROOT, '.bench');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'tls.json'), JSON.stringify({ node: process.version, result }, null, 2) + '\n');
}

await main();

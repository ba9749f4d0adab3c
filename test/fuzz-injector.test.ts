/**
 * Fuzzing the injector of the real `pai serve` (child process) over its unix socket: Check and
 * Process with random, truncated, mutated and structurally odd protobuf sent as raw gRPC messages,
 * and malformed HTTP/2 gRPC streams below what a gRPC library sends. The oracles are in
 * helpers/fuzz-grpc.ts and helpers/fuzz-h2.ts: a credential only ever answers a request that names
 * the bound agent and the provider's host, a matched request never passes without it, nothing
 * unparseable passes, and the server stays alive and SERVING. Counts are in t.log and
 * docs/RELIABILITY.md; PAI_FUZZ_SEED replays a run, PAI_SOAK=1 runs longer (test/soak/fuzz.test.ts).
 */
import anyTest, { type TestFn } from 'ava';
import { findCanary } from './helpers/canary.js';
import { Budget, fuzzSeed, prng } from './helpers/fuzz.js';
import { fuzzCheck, fuzzProcess, summary } from './helpers/fuzz-grpc.js';
import { fuzzH2 } from './helpers/fuzz-h2.js';
import { type FuzzTarget, assertAlive, startFuzzTarget } from './helpers/fuzz-target.js';

const test = anyTest as TestFn<{ target: FuzzTarget; seed: number }>;

test.before(async (t) => {
  t.context = { target: await startFuzzTarget(), seed: fuzzSeed() };
});

test.after.always(async (t) => {
  await t.context.target?.close();
});

test.serial('Check: random, truncated and mutated CheckRequests are denied or answered by the oracle', async (t) => {
  const { target, seed } = t.context;
  const stats = await fuzzCheck(target, new Budget(4000, 15_000), seed);
  t.log(`seed ${seed}; ${summary('Check', stats)}`);
  t.deepEqual(stats.problems, []);
  t.true(stats.tried >= 100, `at least 100 inputs were tried (${stats.tried})`);
  await assertAlive(t, target, 'the Check fuzz');
});

test.serial('Process: random and truncated ProcessingRequest streams are denied or answered by the oracle', async (t) => {
  const { target, seed } = t.context;
  const stats = await fuzzProcess(target, new Budget(2000, 15_000), seed + 1);
  t.log(`seed ${seed + 1}; ${summary('Process', stats)}`);
  t.deepEqual(stats.problems, []);
  t.true(stats.tried >= 50, `at least 50 streams were tried (${stats.tried})`);
  await assertAlive(t, target, 'the Process fuzz');
});

test.serial('HTTP/2: malformed gRPC framing, wrong headers, many and oversized headers never crash it', async (t) => {
  const { target, seed } = t.context;
  const stats = await fuzzH2(target, new Budget(800, 12_000), prng(seed + 2));
  t.log(`seed ${seed + 2}; ${summary('HTTP/2', stats)}`);
  t.deepEqual(stats.problems, []);
  t.true(stats.tried >= 50, `at least 50 streams were tried (${stats.tried})`);
  await assertAlive(t, target, 'the HTTP/2 fuzz');
});

test.serial('after all passes: no credential in the debug log', (t) => {
  const { target } = t.context;
  const logs = target.server.stdout() + target.server.stderr();
  t.true(logs.length > 0);
  t.deepEqual(findCanary(logs, target.canary), []);
  t.deepEqual(findCanary(logs, target.telegram), []);
  t.deepEqual(findCanary(logs, target.envCanary), []);
});

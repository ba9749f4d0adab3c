/**
 * The long fuzz run: the passes of test/fuzz-admin.test.ts and test/fuzz-injector.test.ts against
 * one `pai serve`, with large budgets under `make soak` (PAI_SOAK=1: up to 200,000 inputs or
 * PAI_SOAK_FUZZ_SECONDS, default 120 s, per pass). In `make test` it is a small smoke run (the
 * default-sized passes are the fuzz-*.test.ts files). PAI_FUZZ_SEED replays a run.
 */
import anyTest, { type TestFn } from 'ava';
import { findCanary } from '../helpers/canary.js';
import { Budget, SOAK, fuzzSeed, prng } from '../helpers/fuzz.js';
import { fuzzAdmin } from '../helpers/fuzz-admin.js';
import { type FuzzStats, fuzzCheck, fuzzProcess, summary } from '../helpers/fuzz-grpc.js';
import { fuzzH2 } from '../helpers/fuzz-h2.js';
import { type FuzzTarget, assertAlive, startFuzzTarget } from '../helpers/fuzz-target.js';

const test = anyTest as TestFn<{ target: FuzzTarget; seed: number }>;

const SECONDS = Number(process.env['PAI_SOAK_FUZZ_SECONDS'] ?? 120);
const budget = (): Budget => (SOAK ? new Budget(200_000, SECONDS * 1000) : new Budget(150, 3000));

test.before(async (t) => {
  const target = await startFuzzTarget();
  await target.admin.createSecret('victim', { token: 'not-a-canary' });
  t.context = { target, seed: fuzzSeed() };
});

test.after.always(async (t) => {
  await t.context.target?.close();
});

const passes: [string, (target: FuzzTarget, seed: number) => Promise<FuzzStats>][] = [
  ['Check', (target, seed) => fuzzCheck(target, budget(), seed)],
  ['Process', (target, seed) => fuzzProcess(target, budget(), seed)],
  ['HTTP/2', (target, seed) => fuzzH2(target, budget(), prng(seed))],
  ['admin API', (target, seed) => fuzzAdmin(target, budget(), seed)],
];

for (const [i, [name, pass]] of passes.entries()) {
  test.serial(`${SOAK ? 'soak' : 'smoke'}: ${name} fuzz`, async (t) => {
    // Longer than ava's inactivity timeout (3m in package.json) under `make soak`: say so.
    t.timeout((SOAK ? SECONDS : 3) * 1000 + 120_000);
    const { target, seed } = t.context;
    const stats = await pass(target, seed + i);
    t.log(`seed ${seed + i}; ${summary(name, stats)}`);
    t.deepEqual(stats.problems, []);
    t.true(stats.tried > 0);
    await assertAlive(t, target, `the ${name} fuzz`);
  });
}

test.serial('no canary in the logs after every pass', (t) => {
  const { target } = t.context;
  const logs = target.server.stdout() + target.server.stderr();
  for (const c of [target.canary, target.telegram, target.envCanary]) t.deepEqual(findCanary(logs, c), []);
});

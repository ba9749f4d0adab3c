/**
 * Fuzzing the admin API of the real `pai serve` (child process): random JSON, wrong types, deep
 * nesting, huge bodies, invalid UTF-8, random methods, paths and headers, and raw bytes below HTTP
 * (helpers/fuzz-admin.ts). Every request is answered, input errors are 4xx JSON errors, nothing is
 * a 500, no canary leaks, and the server is alive and healthy afterwards (/healthz, gRPC health).
 * The count is in t.log and docs/RELIABILITY.md; PAI_FUZZ_SEED replays a run.
 */
import anyTest, { type TestFn } from 'ava';
import { findCanary } from './helpers/canary.js';
import { Budget, fuzzSeed } from './helpers/fuzz.js';
import { fuzzAdmin } from './helpers/fuzz-admin.js';
import { summary } from './helpers/fuzz-grpc.js';
import { type FuzzTarget, assertAlive, startFuzzTarget } from './helpers/fuzz-target.js';

const test = anyTest as TestFn<{ target: FuzzTarget; seed: number }>;

test.before(async (t) => {
  const target = await startFuzzTarget();
  t.context = { target, seed: fuzzSeed() };
  await target.admin.createSecret('victim', { token: 'not-a-canary' });
});

test.after.always(async (t) => {
  await t.context.target?.close();
});

test.serial('admin API: every fuzzed request is answered, 4xx for bad input, never a 500 or a leak', async (t) => {
  const { target, seed } = t.context;
  const stats = await fuzzAdmin(target, new Budget(20_000, 25_000), seed);
  t.log(`seed ${seed}; ${summary('admin API', stats)}`);
  t.deepEqual(stats.problems, []);
  t.true(stats.tried >= 200, `at least 200 inputs were tried (${stats.tried})`);
  await assertAlive(t, target, 'the admin API fuzz');
});

test.serial('after the fuzz: no canary in the debug log or the audit log, and the API still works', async (t) => {
  const { target } = t.context;
  const logs = target.server.stdout() + target.server.stderr();
  for (const c of [target.canary, target.telegram, target.envCanary]) t.deepEqual(findCanary(logs, c), []);
  const list = await target.admin.call('GET', '/v1/secrets');
  t.is(list.status, 200);
  const created = await target.admin.call('POST', '/v1/secrets', { name: 'after-fuzz', data: { k: 'v' } });
  t.true(created.status === 201 || created.status === 409, created.text);
});
